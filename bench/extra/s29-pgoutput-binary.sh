#!/bin/bash
# pg_recvlogical over pgoutput, text against binary, on the same WAL: four slots made before the updates, read alternating text, binary, binary, text
set -e
: "${SLUICE_PG_DSN:?start PostgreSQL: eval \$(scripts/postgres.sh start)}"
P="psql -X -q -v ON_ERROR_STOP=1 $SLUICE_PG_DSN"
$P -c "DROP PUBLICATION IF EXISTS binexp; SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'binexp%';" >/dev/null
$P <<'SQL'
DROP TABLE IF EXISTS bx;
CREATE TABLE bx (id serial PRIMARY KEY, name varchar(500), price float8, color varchar(50), category varchar(50), quantity int, description varchar(1000), "internalId" varchar(50), ts timestamptz, amount numeric(12,2));
INSERT INTO bx (name, price, color, category, quantity, description, "internalId", ts, amount)
SELECT 'Product ' || g, (g % 1000) + 0.99, 'red', 'Books', g % 50, repeat('lorem ipsum ', 8), md5(g::text), now() - g * interval '1 second', (g % 100000) / 100.0 FROM generate_series(1, 200000) g;
CREATE PUBLICATION binexp FOR TABLE bx;
SQL
for s in a b c d; do $P -c "SELECT pg_create_logical_replication_slot('binexp_$s', 'pgoutput')" >/dev/null; done
$P -c "UPDATE bx SET quantity = quantity + 1"
$P -c "UPDATE bx SET price = price + 1"
END=$($P -At -c "SELECT pg_current_wal_lsn()")
run() { # slot binary
  local t0=$(date +%s.%N)
  pg_recvlogical -d "$SLUICE_PG_DSN" --slot binexp_$1 --start -o proto_version=1 -o publication_names=binexp $2 --endpos=$END -f /dev/null
  local t1=$(date +%s.%N)
  echo "$1 ${2:-text} $(echo "$t1 - $t0" | bc) s"
}
run a ""
run b "-o binary=true"
run c "-o binary=true"
run d ""
$P -c "DROP PUBLICATION binexp; SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'binexp%'; DROP TABLE bx;" >/dev/null
