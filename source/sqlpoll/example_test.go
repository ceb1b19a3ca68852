package sqlpoll_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/source/sqlpoll"
)

// printer prints each event and the checkpoint, then stops the source.
type printer struct{ stop context.CancelFunc }

func (p printer) Emit(_ context.Context, evs []event.Event, cp []byte) error {
	for _, e := range evs {
		vals := make([]string, len(e.After))
		for i, v := range e.After {
			vals[i] = v.Text()
		}
		fmt.Printf("%s %s [%s] at %s\n", e.Op, e.Schema.Stream, strings.Join(vals, " "), e.Where())
	}
	fmt.Printf("checkpoint %s\n", cp)
	p.stop()
	return nil
}

// Seed 003's JDBC source in incrementing mode, on an SQLite file.
func Example() {
	dir, _ := os.MkdirTemp("", "sqlpoll")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "shop.db")
	db, _ := sql.Open("sqlite", path)
	db.Exec(`CREATE TABLE USERS ("index" INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT)`)
	db.Exec(`INSERT INTO USERS VALUES (1, 'Ada', 'ada@example.com'), (2, 'Bob', NULL)`)
	db.Close()

	cfg := sqlpoll.DefaultConfig()
	cfg.Driver = "sqlite"
	cfg.DSN = path
	cfg.Mode = "incrementing"
	cfg.IncrementingColumn = "index"
	cfg.Tables = []string{"USERS"}
	src, err := sqlpoll.Factory.New(cfg, component.Env{Name: "jdbc"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	ctx, cancel := context.WithCancel(context.Background())
	if err := src.Run(ctx, nil, printer{cancel}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// c jdbc.main.USERS [1 Ada ada@example.com] at id 1
	// c jdbc.main.USERS [2 Bob NULL] at id 2
	// checkpoint {"v":1,"mode":"incrementing","tables":{"USERS":{"id":{"int":"2"}}}}
}
