// Bench runs the streaming SQL benchmark's four topologies (issue 11,
// "Benchmark") in Kafka Streams 3.9.2 against a real Kafka broker, so that
// sluice's figures can be reported as a ratio to Kafka Streams (which
// ksqlDB compiles to). bench/sql/*.sql holds the same four queries in the
// SQL dialect; scripts/kstreams-bench.sh builds and drives this program.
//
//   java Bench produce <a|b|c|d> <n> <prefix>   create + fill the input topics
//   java Bench run     <a|b|c|d> <n> <prefix>   run the topology, print one line
//   java Bench clean   <prefix>                 delete every topic named <prefix>*
//
// Producing and running are separate JVMs so that the run's peak RSS
// (VmHWM from /proc/self/status, a kernel-kept high-water mark, read after
// the run) is the Streams application's own. The broker list comes from
// SLUICE_KAFKA_BROKERS. Options are system properties: -Dbench.tableRows
// (b's table, default 1,000,000), -Dbench.keys (customer keys, default
// 1,000,000), -Dbench.graceMs (c's grace, default 24 h: ksqlDB's default
// when WITHIN has no GRACE PERIOD), -Dbench.timeoutS (default 1800).
//
// Input (topic <prefix>-orders, 1 partition; the record timestamp equals
// "ts"; values are JSON, keys strings):
//   {"id":7,"customer_id":"c55433","price":12.34,"currency":"EUR","ts":1700000000070}
// id = i for i in [0,n); customer_id = "c" + (i*7919+13) mod keys, a
// permutation of the keys while i < keys; price = ((i*2654435761) mod 10000)/100
// (0.00..99.99, about half ≥ 50); currency "USD" when i mod 3 = 0 else "EUR";
// ts = 1700000000000 + 10*i ms (1,000,000 orders span 2.8 hours).
// The key is customer_id for a, b and d (so b's join and d's grouping need
// no repartition: the cheapest Kafka Streams can do), id for c.
//   b: <prefix>-customers, tableRows records keyed "c<j>",
//      {"id":"c<j>","name":"name<j>","age":<10 + j mod 90>}, ts 1 ms before
//      the first order, so Kafka Streams' timestamp synchronisation loads
//      the whole table before the first order is joined.
//   c: <prefix>-shipments, n records keyed by order id,
//      {"id":"s<i>","order_id":<i>,"origin":"warehouse<i mod 7>","ts":<order ts + 60000>}
//
// Topologies (values are JSON with ksqlDB's upper-case column names):
//   a  stream.filter(price >= 50).mapValues({ID, CUSTOMER_ID, PRICE, CURRENCY})
//   b  orders.leftJoin(customers table) -> {ORDER_ID, PRICE, CURRENCY,
//      CUSTOMER_ID, CUSTOMER_NAME, CUSTOMER_AGE}
//   c  orders.join(shipments, JoinWindows.ofTimeDifferenceAndGrace(1 h, grace))
//      -> {ORDER_ID, SHIPMENT_ID, CUSTOMER_ID, PRICE, ORIGIN}
//   d  orders.groupByKey().aggregate(latest) -> {PRICE, LAST_ORDER_ID}
// Streams settings are the defaults (at_least_once, commit.interval.ms
// 30000, one stream thread, auto.offset.reset earliest, a fresh
// application.id and a fresh state directory) except: record caching off
// (statestore.cache.max.bytes=0) so that every update is emitted, as
// EMIT CHANGES does without caching and as sluice does, which makes the
// output count exact; and topology.optimization=all (as ksqlDB sets it), so
// b's table uses its source topic as changelog instead of copying 1M rows.
//
// Measurement: the clock starts just before KafkaStreams.start() and stops
// when the output topic's end offset reaches the expected count (polled
// every 20 ms with an AdminClient); first_output_s is when the first output
// record appeared (for b: the table is loaded by then). Output line:
//   kstreams <t> events=<input records> outputs=<count> seconds=<start to done>
//     eps=<events/seconds> first_output_s=<s> steady_eps=<events/(seconds-first_output_s)>
//     rss_mb=<VmHWM MiB> max_heap_mb=<JVM max heap MiB> [table_rows=<b's table>]
// events counts the measured inputs: n for a, b and d; 2n (orders and
// shipments) for c. b's table rows are not in events (they are loaded
// first; first_output_s covers them). After the line's figures are taken
// the run reads the whole output back and fails unless every record is
// right (a: PRICE ≥ 50 and 4 columns; b: the customer was found; c: the
// shipment is the order's; d: one output key per distinct input key).
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.*;

public class Bench {
  static final ObjectMapper M = new ObjectMapper();
  static final JsonNodeFactory F = JsonNodeFactory.instance;
  static final long BASE_TS = 1_700_000_000_000L;
  static final long SPACING_MS = 10;

  static final long TABLE_ROWS = Long.getLong("bench.tableRows", 1_000_000L);
  static final long KEYS = Long.getLong("bench.keys", 1_000_000L);
  static final long GRACE_MS = Long.getLong("bench.graceMs", Duration.ofHours(24).toMillis());
  static final long TIMEOUT_S = Long.getLong("bench.timeoutS", 1800L);

  static final class JsonSerde implements Serde<JsonNode> {
    public Serializer<JsonNode> serializer() {
      return (topic, v) -> {
        try { return v == null ? null : M.writeValueAsBytes(v); } catch (IOException e) { throw new RuntimeException(e); }
      };
    }
    public Deserializer<JsonNode> deserializer() {
      return (topic, b) -> {
        try { return b == null ? null : M.readTree(b); } catch (IOException e) { throw new RuntimeException(e); }
      };
    }
  }

  // The generator: every field of order i is a function of i, so the
  // producing and the running JVM agree on the expected output count.
  static String customer(long i) { return "c" + Math.floorMod(i * 7919 + 13, KEYS); }
  static double price(long i) { return Math.floorMod(i * 2654435761L, 10000L) / 100.0; }
  static long ts(long i) { return BASE_TS + SPACING_MS * i; }

  static String orderJson(long i) {
    return "{\"id\":" + i + ",\"customer_id\":\"" + customer(i) + "\",\"price\":" + price(i)
        + ",\"currency\":\"" + (i % 3 == 0 ? "USD" : "EUR") + "\",\"ts\":" + ts(i) + "}";
  }

  static String brokers() {
    String b = System.getenv("SLUICE_KAFKA_BROKERS");
    if (b == null || b.isEmpty()) {
      System.err.println("Bench: SLUICE_KAFKA_BROKERS is not set (source /tmp/dev/all.env, or eval \"$(scripts/kafka.sh start)\")");
      System.exit(2);
    }
    return b;
  }

  static Admin admin() {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers());
    return Admin.create(p);
  }

  static long expected(String t, long n) {
    if (!t.equals("a")) return n;
    long c = 0;
    for (long i = 0; i < n; i++) if (price(i) >= 50.0) c++;
    return c;
  }

  static void createTopics(Admin a, String... names) throws Exception {
    List<NewTopic> ts = new ArrayList<>();
    for (String n : names) ts.add(new NewTopic(n, 1, (short) 1));
    a.createTopics(ts).all().get();
  }

  static void produce(String t, long n, String prefix) throws Exception {
    try (Admin a = admin()) {
      switch (t) {
        case "a": case "d": createTopics(a, prefix + "-orders", prefix + "-out"); break;
        case "b": createTopics(a, prefix + "-orders", prefix + "-customers", prefix + "-out"); break;
        case "c": createTopics(a, prefix + "-orders", prefix + "-shipments", prefix + "-out"); break;
        default: throw new IllegalArgumentException("unknown topology " + t + " (want a, b, c or d)");
      }
    }
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers());
    p.put(ProducerConfig.LINGER_MS_CONFIG, "20");
    p.put(ProducerConfig.BATCH_SIZE_CONFIG, "262144");
    p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, String.valueOf(64L << 20));
    long t0 = System.nanoTime();
    AtomicReference<Exception> failed = new AtomicReference<>();
    AtomicLong sent = new AtomicLong();
    try (KafkaProducer<String, byte[]> pr = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
      org.apache.kafka.clients.producer.Callback cb = (md, e) -> {
        if (e != null) failed.compareAndSet(null, e);
        else sent.incrementAndGet();
      };
      if (t.equals("b")) {
        for (long j = 0; j < TABLE_ROWS; j++) {
          String k = "c" + j;
          String v = "{\"id\":\"" + k + "\",\"name\":\"name" + j + "\",\"age\":" + (10 + j % 90) + "}";
          pr.send(new ProducerRecord<>(prefix + "-customers", null, BASE_TS - 1, k, v.getBytes(StandardCharsets.UTF_8)), cb);
        }
      }
      for (long i = 0; i < n; i++) {
        String k = t.equals("c") ? Long.toString(i) : customer(i);
        pr.send(new ProducerRecord<>(prefix + "-orders", null, ts(i), k, orderJson(i).getBytes(StandardCharsets.UTF_8)), cb);
        if (t.equals("c")) {
          long sts = ts(i) + 60_000;
          String v = "{\"id\":\"s" + i + "\",\"order_id\":" + i + ",\"origin\":\"warehouse" + (i % 7) + "\",\"ts\":" + sts + "}";
          pr.send(new ProducerRecord<>(prefix + "-shipments", null, sts, k, v.getBytes(StandardCharsets.UTF_8)), cb);
        }
        if (failed.get() != null) break;
      }
      pr.flush();
    }
    if (failed.get() != null) throw new RuntimeException("producing to " + prefix + "-*: " + failed.get(), failed.get());
    System.err.printf("Bench: produced %d records for %s in %.1f s%n", sent.get(), t, (System.nanoTime() - t0) / 1e9);
  }

  static ObjectNode obj() { return F.objectNode(); }

  static StreamsBuilder topology(String t, String prefix) {
    Serde<String> ks = Serdes.String();
    Serde<JsonNode> vs = new JsonSerde();
    StreamsBuilder b = new StreamsBuilder();
    KStream<String, JsonNode> orders = b.stream(prefix + "-orders", Consumed.with(ks, vs));
    String out = prefix + "-out";
    switch (t) {
      case "a":
        orders.filter((k, v) -> v.get("price").asDouble() >= 50.0)
            .mapValues(v -> {
              ObjectNode o = obj();
              o.set("ID", v.get("id"));
              o.set("CUSTOMER_ID", v.get("customer_id"));
              o.set("PRICE", v.get("price"));
              o.set("CURRENCY", v.get("currency"));
              return (JsonNode) o;
            })
            .to(out, Produced.with(ks, vs));
        break;
      case "b": {
        KTable<String, JsonNode> customers = b.table(prefix + "-customers", Consumed.with(ks, vs),
            Materialized.as("customers"));
        orders.leftJoin(customers, (o, c) -> {
          ObjectNode r = obj();
          r.set("ORDER_ID", o.get("id"));
          r.set("PRICE", o.get("price"));
          r.set("CURRENCY", o.get("currency"));
          r.set("CUSTOMER_ID", o.get("customer_id"));
          r.set("CUSTOMER_NAME", c == null ? F.nullNode() : c.get("name"));
          r.set("CUSTOMER_AGE", c == null ? F.nullNode() : c.get("age"));
          return (JsonNode) r;
        }).to(out, Produced.with(ks, vs));
        break;
      }
      case "c": {
        KStream<String, JsonNode> shipments = b.stream(prefix + "-shipments", Consumed.with(ks, vs));
        orders.join(shipments, (o, s) -> {
          ObjectNode r = obj();
          r.set("ORDER_ID", o.get("id"));
          r.set("SHIPMENT_ID", s.get("id"));
          r.set("CUSTOMER_ID", o.get("customer_id"));
          r.set("PRICE", o.get("price"));
          r.set("ORIGIN", s.get("origin"));
          return (JsonNode) r;
        }, JoinWindows.ofTimeDifferenceAndGrace(Duration.ofHours(1), Duration.ofMillis(GRACE_MS)),
            StreamJoined.with(ks, vs, vs)).to(out, Produced.with(ks, vs));
        break;
      }
      case "d":
        orders.groupByKey(Grouped.with(ks, vs))
            .aggregate(() -> (JsonNode) obj(), (k, v, agg) -> {
              // LATEST_BY_OFFSET ignores NULLs: keep the old value then.
              ObjectNode r = obj();
              JsonNode p = v.get("price");
              r.set("PRICE", p == null || p.isNull() ? agg.path("PRICE") : p);
              JsonNode id = v.get("id");
              r.set("LAST_ORDER_ID", id == null || id.isNull() ? agg.path("LAST_ORDER_ID") : id);
              return (JsonNode) r;
            }, Materialized.with(ks, vs))
            .toStream().to(out, Produced.with(ks, vs));
        break;
      default:
        throw new IllegalArgumentException("unknown topology " + t + " (want a, b, c or d)");
    }
    return b;
  }

  static long vmHWMKiB() throws IOException {
    for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (l.startsWith("VmHWM:")) return Long.parseLong(l.replaceAll("[^0-9]", ""));
    }
    return -1;
  }

  static void run(String t, long n, String prefix) throws Exception {
    long want = expected(t, n);
    Path stateDir = Files.createTempDirectory("kstreams-bench-state");
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, prefix + "-app");
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers());
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0");
    p.put(StreamsConfig.TOPOLOGY_OPTIMIZATION_CONFIG, StreamsConfig.OPTIMIZE);
    p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
    StreamsBuilder b = topology(t, prefix);
    TopicPartition outTp = new TopicPartition(prefix + "-out", 0);
    try (Admin a = admin()) {
      KafkaStreams ks = new KafkaStreams(b.build(p), p);
      AtomicReference<Throwable> died = new AtomicReference<>();
      ks.setUncaughtExceptionHandler(e -> {
        died.compareAndSet(null, e);
        return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
      });
      long t0 = System.nanoTime();
      ks.start();
      long first = -1, end = 0, deadline = t0 + TIMEOUT_S * 1_000_000_000L;
      while (true) {
        end = a.listOffsets(Map.of(outTp, OffsetSpec.latest())).partitionResult(outTp).get().offset();
        long now = System.nanoTime();
        if (first < 0 && end > 0) first = now;
        if (end >= want) break;
        if (died.get() != null) throw new RuntimeException("Kafka Streams failed: " + died.get(), died.get());
        if (now > deadline) throw new RuntimeException("timed out after " + TIMEOUT_S + " s with " + end + " of " + want + " outputs (state " + ks.state() + ")");
        Thread.sleep(20);
      }
      long t1 = System.nanoTime();
      ks.close(Duration.ofSeconds(60));
      long rss = vmHWMKiB();
      double secs = (t1 - t0) / 1e9, firstS = (first - t0) / 1e9;
      long events = t.equals("c") ? 2 * n : n;
      StringBuilder sb = new StringBuilder();
      sb.append(String.format("kstreams %s events=%d outputs=%d seconds=%.3f eps=%.0f first_output_s=%.3f steady_eps=%.0f rss_mb=%.1f max_heap_mb=%d",
          t, events, end, secs, events / secs, firstS, events / (secs - firstS), rss / 1024.0,
          Runtime.getRuntime().maxMemory() >> 20));
      if (t.equals("b")) sb.append(" table_rows=").append(TABLE_ROWS);
      // The figures go to stderr before the (slow) read-back, so that a
      // failed verification still shows what was measured.
      System.err.println("Bench: measured, verifying: " + sb);
      verify(t, n, prefix + "-out", end);
      System.out.println(sb);
    } finally {
      deleteTree(stateDir);
    }
  }

  // verify reads the whole output (after the clock and the RSS reading) and
  // checks what the topology must have produced, so a figure is never that
  // of a wrong result (e.g. b joining before its table was loaded).
  static void verify(String t, long n, String topic, long count) throws Exception {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers());
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000");
    TopicPartition tp = new TopicPartition(topic, 0);
    java.util.Set<String> keys = new java.util.HashSet<>();
    long seen = 0, bad = 0;
    String firstBad = null;
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
      c.assign(List.of(tp));
      c.seekToBeginning(List.of(tp));
      // 5 minutes plus 1 ms a record: reading 1,000,000 records back took
      // over 5 minutes on 2 cores at load 14.
      long deadline = System.nanoTime() + 300_000_000_000L + count * 1_000_000L;
      while (seen < count) {
        if (System.nanoTime() > deadline) throw new RuntimeException("verify: read only " + seen + " of " + count + " outputs");
        for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(500))) {
          seen++;
          JsonNode v = M.readTree(r.value());
          boolean ok;
          switch (t) {
            case "a": ok = v.get("PRICE").asDouble() >= 50.0 && v.size() == 4; break;
            case "b": ok = !v.get("CUSTOMER_NAME").isNull() || Long.parseLong(r.key().substring(1)) >= TABLE_ROWS; break;
            case "c": ok = v.get("SHIPMENT_ID").asText().equals("s" + v.get("ORDER_ID").asLong()); break;
            default: keys.add(r.key()); ok = v.get("LAST_ORDER_ID").isNumber(); break;
          }
          if (!ok) {
            bad++;
            if (firstBad == null) firstBad = r.key() + " " + v;
          }
        }
      }
    }
    if (t.equals("d") && keys.size() != Math.min(n, KEYS)) {
      throw new RuntimeException("verify d: " + keys.size() + " keys in the output, want " + Math.min(n, KEYS));
    }
    if (bad > 0) throw new RuntimeException("verify " + t + ": " + bad + " of " + seen + " outputs wrong, first: " + firstBad);
  }

  static void deleteTree(Path d) throws IOException {
    try (Stream<Path> s = Files.walk(d)) {
      for (Path x : s.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) Files.deleteIfExists(x);
    }
  }

  static void clean(String prefix) throws Exception {
    try (Admin a = admin()) {
      List<String> mine = a.listTopics().names().get().stream().filter(n -> n.startsWith(prefix)).collect(Collectors.toList());
      if (!mine.isEmpty()) a.deleteTopics(mine).all().get();
      try {
        a.deleteConsumerGroups(List.of(prefix + "-app")).all().get();
      } catch (Exception e) {
        // no group when the run never started
      }
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length == 2 && args[0].equals("clean")) {
      clean(args[1]);
      return;
    }
    if (args.length != 4 || !(args[0].equals("produce") || args[0].equals("run"))) {
      System.err.println("usage: Bench produce|run a|b|c|d <n> <prefix> | Bench clean <prefix>");
      System.exit(2);
    }
    long n = Long.parseLong(args[2]);
    if (args[0].equals("produce")) produce(args[1], n, args[3]);
    else run(args[1], n, args[3]);
    System.exit(0); // Kafka client threads must not keep the JVM up
  }
}
