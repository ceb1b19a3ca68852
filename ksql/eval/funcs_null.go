package eval

import (
	"github.com/sluice-dev/sluice/event"
)

func nullFuncs() map[string][]*overload {
	first := func(a []event.Value) (event.Value, error) {
		for _, v := range a {
			if v.Kind != event.KindNull {
				return v, nil
			}
		}
		return event.Null, nil
	}
	return map[string][]*overload{
		"COALESCE": {over("T, T... -> T").nulls().fn(first)},
		"IFNULL":   {over("T, T -> T").nulls().fn(first)},
		"NULLIF": {over("T, T -> T").nulls().with(func(c *callSite) (callFn, error) {
			eq, err := equalFunc(c.params[0], c.params[1])
			if err != nil {
				return nil, err
			}
			return func(a []event.Value) (event.Value, error) {
				if a[0].Kind == event.KindNull || a[1].Kind != event.KindNull && eq(a[0], a[1]) {
					return event.Null, nil
				}
				return a[0], nil
			}, nil
		})},
	}
}
