// Oracle runs Kafka Streams topologies in TopologyTestDriver on records
// read from stdin and prints what they output, so that sluice's streaming
// SQL operators can be compared with Kafka Streams (which ksqlDB compiles
// to) on the same inputs. ksql/difftest drives it: many cases in one JVM.
//
// stdin: cases one after the other. A case is one JSON line with the
// topology (it has "op"), then one JSON line per input record:
// {"topic":"left"|"right","key":"k"|null,"value":{...}|null,"ts":ms}
// (an optional "n" is echoed as "in" in the outputs it causes).
// stdout: per case, one JSON line per output record,
// {"key":…,"value":…,"ts":ms[,"in":n]}, then {"end":true} once the case's driver
// is closed. Each case runs in a new TopologyTestDriver.
//
// The outer-join emit interval
// (emit.interval.ms.kstreams.outer.join.spurious.results.fix) is 0: the
// test driver's wall clock stands still, so with the default 1 s only the
// first closed window's outer results would ever come out.
//
// Topologies ("op"):
//   stream_table_join   left is a stream, right a table; "join": inner|left
//   stream_stream_join  "join": inner|left|outer; "before_ms", "after_ms", "grace_ms"
//   table_table_join    "join": inner|left|outer
//   aggregate           left only; "func": count|sum|latest_by_offset over field "v";
//                       optional "window": {"type": tumbling|hopping|session,
//                       "size_ms", "advance_ms", "grace_ms"}; sessions merge
//                       LATEST_BY_OFFSET by the later offset, as ksqlDB does
// "store": "in_memory" makes the DSL stores in-memory ("rocksDB", the
// default, is what ksqlDB uses: the same results, slower).
// Joined values are {"L": left value, "R": right value}. Windowed outputs
// are keyed {"key": k, "start": ms, "end": ms}. Caching is off, so every
// update is emitted (ksqlDB's EMIT CHANGES without record caching).
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Properties;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyConfig;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.kstream.*;
import org.apache.kafka.streams.test.TestRecord;

public class Oracle {
  static final ObjectMapper M = new ObjectMapper();

  static final class JsonSerde implements Serde<JsonNode> {
    public Serializer<JsonNode> serializer() {
      return (topic, v) -> {
        try { return v == null ? null : M.writeValueAsBytes(v); } catch (Exception e) { throw new RuntimeException(e); }
      };
    }
    public Deserializer<JsonNode> deserializer() {
      return (topic, b) -> {
        try { return b == null ? null : M.readTree(b); } catch (Exception e) { throw new RuntimeException(e); }
      };
    }
  }

  // offset numbers the values LATEST_BY_OFFSET keeps, in arrival order.
  static long offset;

  // result is an aggregate's output value: LATEST_BY_OFFSET's without
  // its offset.
  static JsonNode result(JsonNode a) {
    return a != null && a.isObject() ? a.get("v") : a;
  }

  static JsonNode joined(JsonNode l, JsonNode r) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.set("L", l == null ? JsonNodeFactory.instance.nullNode() : l);
    o.set("R", r == null ? JsonNodeFactory.instance.nullNode() : r);
    return o;
  }

  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    String line = in.readLine();
    int n = 0;
    while (line != null) {
      if (line.isBlank()) { line = in.readLine(); continue; }
      line = runCase(M.readTree(line), in, out, n++);
      out.println("{\"end\":true}");
      out.flush();
    }
  }

  // runCase runs the topology spec on the records that follow it and
  // returns the next case's first line (null at the end of input).
  static String runCase(JsonNode spec, BufferedReader in, PrintStream sink, int n) throws Exception {
    String op = spec.get("op").asText();
    Serde<String> ks = Serdes.String();
    Serde<JsonNode> vs = new JsonSerde();
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, "oracle");
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "dummy:1234");
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
    p.put(StreamsConfig.STATE_DIR_CONFIG, System.getProperty("java.io.tmpdir") + "/oracle-" + ProcessHandle.current().pid() + "-" + n);
    p.put(StreamsConfig.InternalConfig.EMIT_INTERVAL_MS_KSTREAMS_OUTER_JOIN_SPURIOUS_RESULTS_FIX, 0L);
    if (spec.has("store")) p.put(StreamsConfig.DEFAULT_DSL_STORE_CONFIG, spec.get("store").asText());
    // The builder reads the DSL store type from its TopologyConfig.
    StreamsBuilder b = new StreamsBuilder(new TopologyConfig(new StreamsConfig(p)));
    boolean windowedOut = false;
    String join = spec.path("join").asText("inner");
    switch (op) {
      case "stream_table_join": {
        KStream<String, JsonNode> l = b.stream("left", Consumed.with(ks, vs));
        KTable<String, JsonNode> r = b.table("right", Consumed.with(ks, vs));
        KStream<String, JsonNode> out = join.equals("left") ? l.leftJoin(r, Oracle::joined) : l.join(r, Oracle::joined);
        out.to("out", Produced.with(ks, vs));
        break;
      }
      case "stream_stream_join": {
        KStream<String, JsonNode> l = b.stream("left", Consumed.with(ks, vs));
        KStream<String, JsonNode> r = b.stream("right", Consumed.with(ks, vs));
        JoinWindows w = JoinWindows.ofTimeDifferenceAndGrace(Duration.ZERO, Duration.ofMillis(spec.get("grace_ms").asLong()))
            .before(Duration.ofMillis(spec.get("before_ms").asLong()))
            .after(Duration.ofMillis(spec.get("after_ms").asLong()));
        StreamJoined<String, JsonNode, JsonNode> sj = StreamJoined.with(ks, vs, vs);
        KStream<String, JsonNode> out;
        if (join.equals("left")) out = l.leftJoin(r, Oracle::joined, w, sj);
        else if (join.equals("outer")) out = l.outerJoin(r, Oracle::joined, w, sj);
        else out = l.join(r, Oracle::joined, w, sj);
        out.to("out", Produced.with(ks, vs));
        break;
      }
      case "table_table_join": {
        KTable<String, JsonNode> l = b.table("left", Consumed.with(ks, vs));
        KTable<String, JsonNode> r = b.table("right", Consumed.with(ks, vs));
        KTable<String, JsonNode> out;
        if (join.equals("left")) out = l.leftJoin(r, Oracle::joined);
        else if (join.equals("outer")) out = l.outerJoin(r, Oracle::joined);
        else out = l.join(r, Oracle::joined);
        out.toStream().to("out", Produced.with(ks, vs));
        break;
      }
      case "aggregate": {
        String func = spec.get("func").asText();
        KGroupedStream<String, JsonNode> g = b.stream("left", Consumed.with(ks, vs)).groupByKey(Grouped.with(ks, vs));
        Initializer<JsonNode> init = () -> func.equals("latest_by_offset") ? JsonNodeFactory.instance.nullNode() : JsonNodeFactory.instance.numberNode(0L);
        Aggregator<String, JsonNode, JsonNode> agg = (k, v, a) -> {
          JsonNode f = v == null ? null : v.get("v");
          switch (func) {
            case "count": return JsonNodeFactory.instance.numberNode(a.asLong() + 1);
            case "sum": return (f == null || f.isNull()) ? a : JsonNodeFactory.instance.numberNode(a.asLong() + f.asLong());
            default: // latest_by_offset ignores NULLs; {"o": offset, "v": value}
              if (f == null || f.isNull()) return a;
              ObjectNode o = JsonNodeFactory.instance.objectNode();
              o.put("o", ++offset);
              o.set("v", f);
              return o;
          }
        };
        JsonNode win = spec.get("window");
        if (win == null || win.isNull()) {
          g.aggregate(init, agg, Materialized.with(ks, vs)).toStream().mapValues(Oracle::result).to("out", Produced.with(ks, vs));
        } else {
          windowedOut = true;
          String type = win.get("type").asText();
          Duration size = Duration.ofMillis(win.get("size_ms").asLong());
          Duration grace = Duration.ofMillis(win.get("grace_ms").asLong());
          KTable<Windowed<String>, JsonNode> t;
          if (type.equals("session")) {
            Merger<String, JsonNode> merger = (k, a1, a2) -> {
              switch (func) {
                case "count":
                case "sum": return JsonNodeFactory.instance.numberNode(a1.asLong() + a2.asLong());
                default: // the later offset's value, as ksqlDB's LATEST_BY_OFFSET merges
                  if (a1.isNull()) return a2;
                  if (a2.isNull()) return a1;
                  return a1.get("o").asLong() > a2.get("o").asLong() ? a1 : a2;
              }
            };
            t = g.windowedBy(SessionWindows.ofInactivityGapAndGrace(size, grace)).aggregate(init, agg, merger, Materialized.with(ks, vs));
          } else {
            TimeWindows tw = TimeWindows.ofSizeAndGrace(size, grace);
            if (type.equals("hopping")) tw = tw.advanceBy(Duration.ofMillis(win.get("advance_ms").asLong()));
            t = g.windowedBy(tw).aggregate(init, agg, Materialized.with(ks, vs));
          }
          t.toStream().map((wk, v) -> {
            ObjectNode k = JsonNodeFactory.instance.objectNode();
            k.put("key", wk.key());
            k.put("start", wk.window().start());
            k.put("end", wk.window().end());
            return KeyValue.pair(k.toString(), result(v));
          }).to("out", Produced.with(ks, vs));
        }
        break;
      }
      default:
        throw new IllegalArgumentException("unknown op " + op);
    }
    Topology topo = b.build();
    try (TopologyTestDriver d = new TopologyTestDriver(topo, p)) {
      TestInputTopic<String, JsonNode> left = d.createInputTopic("left", ks.serializer(), vs.serializer());
      TestInputTopic<String, JsonNode> right = op.equals("aggregate") ? null : d.createInputTopic("right", ks.serializer(), vs.serializer());
      TestOutputTopic<String, JsonNode> o = d.createOutputTopic("out", ks.deserializer(), vs.deserializer());
      String line;
      while ((line = in.readLine()) != null) {
        if (line.isBlank()) continue;
        JsonNode r = M.readTree(line);
        if (r.has("op")) break;
        String key = r.get("key").isNull() ? null : r.get("key").asText();
        JsonNode value = r.get("value").isNull() ? null : r.get("value");
        Instant ts = Instant.ofEpochMilli(r.get("ts").asLong());
        (r.get("topic").asText().equals("right") ? right : left).pipeInput(new TestRecord<>(key, value, ts));
        for (TestRecord<String, JsonNode> rec : o.readRecordsToList()) {
          ObjectNode j = JsonNodeFactory.instance.objectNode();
          if (windowedOut && rec.key() != null) j.set("key", M.readTree(rec.key()));
          else if (rec.key() == null) j.putNull("key");
          else j.put("key", rec.key());
          j.set("value", rec.value() == null ? JsonNodeFactory.instance.nullNode() : rec.value());
          j.put("ts", rec.timestamp());
          if (r.has("n")) j.set("in", r.get("n"));
          sink.println(M.writeValueAsString(j));
        }
      }
      return line;
    }
  }
}
