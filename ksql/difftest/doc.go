// Package difftest holds the differential test of sluice's streaming SQL
// against Kafka Streams 3.9.2, the library ksqlDB compiles to
// (kstreams_test.go; the package has no other code).
//
// # What runs
//
// Each topology is a statement over two sluice streams, "left" and
// "right", declared as ksqlDB would (L and R, K STRING KEY or PRIMARY
// KEY, V BIGINT), and the equivalent Kafka Streams DSL topology in
// scripts/kstreams/Oracle.java (TopologyTestDriver, no broker, record
// caching off, so every update is emitted as with ksqlDB's EMIT CHANGES):
//
//   - stream-table INNER and LEFT JOIN: KStream.join/leftJoin(KTable)
//   - stream-stream INNER, LEFT and FULL OUTER JOIN … WITHIN, symmetric
//     and (before, after), with several grace periods:
//     KStream.join/leftJoin/outerJoin with
//     JoinWindows.ofTimeDifferenceAndGrace(…).before(…).after(…)
//   - table-table INNER, LEFT and FULL OUTER JOIN on the primary key:
//     KTable.join/leftJoin/outerJoin
//   - GROUP BY K with COUNT(*), SUM(V) and LATEST_BY_OFFSET(V), without
//     a window and with TUMBLING (grace 0 and 7 ms), HOPPING and SESSION
//     windows: groupByKey().[windowedBy(…)].aggregate
//
// Each topology runs on -kstreams.cases random input sequences (40 by
// default; seed i of every topology is reproducible with -kstreams.seed=i
// and -run TestKStreams/<topology>/i). A sequence has 6 to 45 records over
// one to four keys (so keys repeat), with NULL keys (6 %), NULL values of
// V (15 %), tombstones (10 %: a delete in sluice, a null value in Kafka
// Streams) and timestamps that mostly grow but go back, within the window
// and grace and beyond it (late records). sluice runs them from the SQL
// text: ksql/parse, ksql/plan over a MapCatalog, ksql/exec with ksql/eval
// as the compiler over exectest.State, flushing after random batches and
// rebuilding the Executor on the same state once per sequence (as after a
// restart). All sequences go to one JVM (about 20 s for the default 1,400).
//
// The test needs SLUICE_KSTREAMS (`eval "$(scripts/kstreams.sh start)"`,
// which fetches the jars from Maven Central once; scripts/test.sh does
// it); without it the test is skipped, or fails when CI is set. It
// compiles scripts/kstreams/Oracle.java from this tree. Kafka Streams'
// stores are in memory by default (-kstreams.store=rocksDB for ksqlDB's
// RocksDB stores, the same results, about 20 times slower).
//
// # How outputs are compared
//
// An output is spelled as the input record that caused it, its key, the
// window bounds of windowed aggregations ([start,end], end exclusive for
// TUMBLING and HOPPING, inclusive for SESSION, as both have them), the
// value as JSON ({"L": left value, "R": right value} for joins, a side
// being null when absent; the aggregate for aggregations; null for a
// delete) and the timestamp in milliseconds. The two lists must be equal:
// the same outputs, caused by the same inputs, in the same order — except
// for the documented differences below.
//
// # What Kafka Streams is not given
//
// Some records go to sluice only; the failure report marks them "-":
//
//   - A tombstone of a STREAM: ksqlDB's stream sources skip records with
//     no value before any operator (sluice sees a delete, which a STREAM
//     drops: ksql/exec's package doc).
//   - A record with a NULL key on the stream side of a join. Kafka
//     Streams 3.3 (ksqlDB 0.28) and sluice drop it before it does
//     anything; Kafka Streams 3.7 and later (KIP-962) join it in left and
//     outer joins (a result with a null key) and let it advance a
//     stream-stream join's stream time.
//   - A late record of a stream-stream join (its time + its window's
//     reach towards the other side + grace < stream time): sluice drops it
//     at the join; Kafka Streams still joins it with whatever its window
//     stores have not expired and gives it its outer result at once.
//
// And one kind of record is moved: a stream-stream join record arriving
// exactly at the edge of lateness (its time + reach + grace = stream
// time) comes one millisecond later. There sluice joins it with every
// record of its window, like Kafka Streams 3.3's RocksDB stores (which
// expire by segment), but Kafka Streams 3.9's stores no longer show the
// other side's record at the far end of the window (they hide records at
// or before the store's stream time − (before + after + grace)).
// Every stream-stream sequence ends with a record of a fresh key far in
// the future, so that every record waiting for its outer result gets it
// in both.
//
// # Documented differences in the outputs
//
// Stream-stream LEFT and FULL OUTER joins emit the outer result of an
// unmatched record (with NULLs for the other side) once its window has
// closed. sluice emits it at the first record at stream time after that
// (ksql/exec's package doc); Kafka Streams 3.9 may skip such passes: its
// estimate of the oldest waiting record is the time of the last one its
// previous pass looked at, and it checks it against the window of the
// side whose record arrives. So these waiting outer results are compared
// apart: each of Kafka Streams' must be one of sluice's, caused by the
// same or an earlier input; each of sluice's that Kafka Streams lacks must
// be of a record that a later input matched (Kafka Streams, not having
// emitted it yet, dropped it on the match). Everything else (the joined
// results, an out-of-order record's immediate outer result) must be equal
// and in order.
//
// Table-table joins: Kafka Streams forwards, for a delete of a key that
// its table does not hold, the join's current row again (LEFT, OUTER) or a
// tombstone; and a tombstone for a key the result does not hold. sluice
// emits nothing for a change that changes nothing (ksql/exec's package
// doc), so those Kafka Streams outputs are dropped before comparing.
package difftest
