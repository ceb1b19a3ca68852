package eval

import (
	"fmt"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// CollectLimit bounds COLLECT_LIST, COLLECT_SET and the N of
// LATEST_BY_OFFSET / EARLIEST_BY_OFFSET: values beyond it are ignored, as
// ksqlDB's ksql.functions.collect_list.limit does (1000 in Confluent
// Cloud; ksqlDB 0.28's default is unbounded, which would let one group's
// state grow without limit).
const CollectLimit = 1000

// aggFunc is an aggregate function: how to type its arguments and build
// its Aggregator.
type aggFunc struct {
	sigs  []string
	ret   func(args []types.Type, lits []*event.Value) (types.Type, error)
	build func(args []types.Type, lits []*event.Value, ret types.Type) (ir.Aggregator, error)
}

var aggregates = map[string]*aggFunc{
	"COUNT": {
		sigs: []string{"COUNT(*) -> BIGINT", "COUNT(ANY) -> BIGINT"},
		ret: func(args []types.Type, _ []*event.Value) (types.Type, error) {
			if len(args) > 1 {
				return types.Type{}, fmt.Errorf("COUNT takes one argument or *")
			}
			return types.TBigint, nil
		},
		build: func(args []types.Type, _ []*event.Value, _ types.Type) (ir.Aggregator, error) {
			return countAgg{star: len(args) == 0}, nil
		},
	},
	"SUM": {
		sigs: []string{"SUM(INTEGER) -> INTEGER", "SUM(BIGINT) -> BIGINT", "SUM(DOUBLE) -> DOUBLE", "SUM(DECIMAL) -> DECIMAL"},
		ret:  numericAggType("SUM", false),
		build: func(args []types.Type, _ []*event.Value, ret types.Type) (ir.Aggregator, error) {
			return &sumAgg{t: ret}, nil
		},
	},
	"AVG": {
		sigs: []string{"AVG(INTEGER) -> DOUBLE", "AVG(BIGINT) -> DOUBLE", "AVG(DOUBLE) -> DOUBLE"},
		ret:  numericAggType("AVG", true),
		build: func(args []types.Type, _ []*event.Value, _ types.Type) (ir.Aggregator, error) {
			return &avgAgg{in: args[0]}, nil
		},
	},
	"MIN": {
		sigs:  []string{"MIN(T) -> T for INTEGER, BIGINT, DOUBLE, DECIMAL, DATE, TIME, TIMESTAMP, STRING, BYTES"},
		ret:   orderedAggType("MIN"),
		build: extremeBuild(-1),
	},
	"MAX": {
		sigs:  []string{"MAX(T) -> T for INTEGER, BIGINT, DOUBLE, DECIMAL, DATE, TIME, TIMESTAMP, STRING, BYTES"},
		ret:   orderedAggType("MAX"),
		build: extremeBuild(1),
	},
	"LATEST_BY_OFFSET":   byOffset("LATEST_BY_OFFSET", true),
	"EARLIEST_BY_OFFSET": byOffset("EARLIEST_BY_OFFSET", false),
	"COLLECT_LIST": {
		sigs: []string{"COLLECT_LIST(T) -> ARRAY<T>"},
		ret:  oneArg("COLLECT_LIST", func(t types.Type) types.Type { return types.ArrayOf(t) }),
		build: func(args []types.Type, _ []*event.Value, _ types.Type) (ir.Aggregator, error) {
			eq, err := equalFunc(args[0], args[0])
			if err != nil {
				return nil, err
			}
			return &collectAgg{eq: eq}, nil
		},
	},
	"COLLECT_SET": {
		sigs: []string{"COLLECT_SET(T) -> ARRAY<T>"},
		ret:  oneArg("COLLECT_SET", func(t types.Type) types.Type { return types.ArrayOf(t) }),
		build: func(args []types.Type, _ []*event.Value, _ types.Type) (ir.Aggregator, error) {
			eq, err := equalFunc(args[0], args[0])
			if err != nil {
				return nil, err
			}
			return &collectAgg{eq: eq, set: true}, nil
		},
	},
}

func oneArg(name string, ret func(types.Type) types.Type) func([]types.Type, []*event.Value) (types.Type, error) {
	return func(args []types.Type, _ []*event.Value) (types.Type, error) {
		if len(args) != 1 {
			return types.Type{}, fmt.Errorf("%s takes one argument", name)
		}
		return ret(args[0]), nil
	}
}

// numericAggType types SUM (the argument's type) and AVG (DOUBLE); a
// DECIMAL argument to AVG is read as DOUBLE, as ksqlDB casts it.
func numericAggType(name string, avg bool) func([]types.Type, []*event.Value) (types.Type, error) {
	return func(args []types.Type, _ []*event.Value) (types.Type, error) {
		if len(args) != 1 {
			return types.Type{}, fmt.Errorf("%s takes one argument", name)
		}
		t := args[0]
		switch t.Base {
		case types.Integer, types.Bigint, types.Double, types.Decimal:
		case types.Unknown:
			t = types.TInteger
		default:
			return types.Type{}, fmt.Errorf("%s does not take %s", name, t)
		}
		if avg {
			return types.TDouble, nil
		}
		return t, nil
	}
}

func orderedAggType(name string) func([]types.Type, []*event.Value) (types.Type, error) {
	return func(args []types.Type, _ []*event.Value) (types.Type, error) {
		if len(args) != 1 {
			return types.Type{}, fmt.Errorf("%s takes one argument", name)
		}
		t := args[0]
		if !t.IsNumeric() && !isTemporal(t) && t.Base != types.String && t.Base != types.Bytes {
			return types.Type{}, fmt.Errorf("%s does not take %s", name, t)
		}
		return t, nil
	}
}

// ResolveAggregate is the result type of the aggregate function name
// (upper case) over arguments of types args. lits holds the constant
// arguments' values (nil where an argument is not a constant):
// LATEST_BY_OFFSET's count and ignore-nulls flag must be constants.
func ResolveAggregate(name string, args []types.Type, lits []*event.Value) (types.Type, error) {
	a, ok := aggregates[name]
	if !ok {
		return types.Type{}, fmt.Errorf("unknown aggregate function %s", name)
	}
	if lits == nil {
		lits = make([]*event.Value, len(args))
	}
	return a.ret(args, lits)
}

// IsAggregate reports whether name (upper case) is an aggregate function.
func IsAggregate(name string) bool {
	_, ok := aggregates[name]
	return ok
}

// CompileAggregate builds the Aggregator of an aggregate call. The
// operator evaluates the call's arguments for every row and passes their
// values to Add and Undo (none for COUNT(*)).
func CompileAggregate(c ir.AggCall) (ir.Aggregator, error) {
	a, ok := aggregates[c.Func]
	if !ok {
		return nil, fmt.Errorf("unknown aggregate function %s", c.Func)
	}
	args := make([]types.Type, len(c.Args))
	lits := make([]*event.Value, len(c.Args))
	for i, e := range c.Args {
		args[i] = e.Type()
		if l, ok := e.(*ir.Literal); ok {
			v := l.Value
			lits[i] = &v
		}
	}
	ret, err := a.ret(args, lits)
	if err != nil {
		return nil, err
	}
	if !ret.Equal(c.T) {
		return nil, fmt.Errorf("%s(%s) gives %s, but the plan expects %s", c.Func, typeList(args), ret, c.T)
	}
	return a.build(args, lits, ret)
}
