package plan

import (
	"testing"

	"github.com/sluice-dev/sluice/ksql/parse"
)

// TestPartitionByNames: the result of PARTITION BY is named as ksqlDB
// names it (its query-validation tests partition-by.json): a column key
// keeps the column's name, * included; another expression is KSQL_COL_n,
// which * selects; unaliased SELECT items are named over the FROM
// columns in SELECT order; in a join * names the column key ALIAS_NAME.
// sluice keeps the source's column order for the value columns.
func TestPartitionByNames(t *testing.T) {
	const ddl = `CREATE STREAM pv WITH (kafka_topic = 'pg.public.pageviews');
CREATE TABLE users WITH (kafka_topic = 'pg.public.users');
`
	for _, tc := range []struct{ sql, want string }{
		{"SELECT * FROM pv PARTITION BY page_id",
			"(PAGE_ID STRING KEY, ID BIGINT, VIEWTIME BIGINT, USER_ID STRING, TAGS ARRAY<STRING>, PAYLOAD STRING)"},
		{"SELECT * FROM pv PARTITION BY UCASE(page_id)",
			"(KSQL_COL_0 STRING KEY, ID BIGINT, VIEWTIME BIGINT, USER_ID STRING, PAGE_ID STRING, TAGS ARRAY<STRING>, PAYLOAD STRING)"},
		{"SELECT * FROM pv PARTITION BY user_id, page_id",
			"(USER_ID STRING KEY, PAGE_ID STRING KEY, ID BIGINT, VIEWTIME BIGINT, TAGS ARRAY<STRING>, PAYLOAD STRING)"},
		{"SELECT page_id AS p, viewtime FROM pv PARTITION BY page_id",
			"(P STRING KEY, VIEWTIME BIGINT)"},
		{"SELECT viewtime, UCASE(page_id) FROM pv PARTITION BY UCASE(page_id)",
			"(KSQL_COL_0 STRING KEY, VIEWTIME BIGINT)"},
		{"SELECT UCASE(user_id), UCASE(page_id) FROM pv PARTITION BY UCASE(page_id)",
			"(KSQL_COL_1 STRING KEY, KSQL_COL_0 STRING)"},
		{"SELECT * FROM pv p JOIN users u ON p.user_id = u.id PARTITION BY p.page_id",
			"(P_PAGE_ID STRING KEY, P_ID BIGINT, P_VIEWTIME BIGINT, P_USER_ID STRING, P_TAGS ARRAY<STRING>, P_PAYLOAD STRING, U_ID STRING, U_GENDER STRING, U_REGION STRING, U_BALANCE DECIMAL(10, 2), U_BORN DATE, U_SEEN TIMESTAMP, U_IP STRING)"},
		{"SELECT * FROM pv p JOIN users u ON p.user_id = u.id PARTITION BY UCASE(p.page_id)",
			"(KSQL_COL_0 STRING KEY, P_ID BIGINT, P_VIEWTIME BIGINT, P_USER_ID STRING, P_PAGE_ID STRING, P_TAGS ARRAY<STRING>, P_PAYLOAD STRING, U_ID STRING, U_GENDER STRING, U_REGION STRING, U_BALANCE DECIMAL(10, 2), U_BORN DATE, U_SEEN TIMESTAMP, U_IP STRING)"},
	} {
		stmts, err := parse.Parse(ddl + "CREATE STREAM r AS " + tc.sql + ";")
		if err != nil {
			t.Fatal(err)
		}
		p, err := Build(stmts, featureCatalog(), Options{})
		if err != nil {
			t.Errorf("%s: %v", tc.sql, err)
			continue
		}
		if err := checkPlan(p); err != nil {
			t.Errorf("%s: %v", tc.sql, err)
		}
		if got := schemaText(p.Relation("R").Schema); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.sql, got, tc.want)
		}
	}
}
