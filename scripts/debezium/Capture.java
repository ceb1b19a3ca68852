// Capture runs Debezium's embedded engine with the connector configured in a
// properties file and writes every record it emits, as Kafka Connect would
// write it, to files: sluice's differential tests compare them byte for
// byte with what sluice writes for the same changes (scripts/debezium.sh).
//
// Usage: java -cp 'lib/*:classes' Capture <config.properties>
//
// Every property is handed to the engine except these:
//
//	capture.out         directory for the output files (required)
//	capture.stop.topic  stop (and exit 0) after the first insert (op c) into this topic
//	capture.ready       file created once the snapshot's last record was seen
//	capture.unwrap.*    options of io.debezium.transforms.ExtractNewRecordState
//	                    for row.tsv (without the prefix)
//	capture.formats     which files to write, comma-separated (default
//	                    debezium,debezium+schema,row); the benchmark
//	                    (cmd/sluice-bench) writes only debezium
//	capture.value.only  true: each line is the value alone, as sluice's file
//	                    sink writes it (default false: the TSV line below)
//	capture.fsync       true: fsync the files after each batch, before the
//	                    batch is marked processed, as sluice's file sink does
//
// Output, one line per record, "topic<TAB>key<TAB>value<TAB>headers":
//
//	debezium.tsv         JsonConverter with schemas.enable=false
//	debezium+schema.tsv  JsonConverter with schemas.enable=true
//	row.tsv              ExtractNewRecordState, then schemas.enable=false
//
// A null key or value (tombstones, truncates) is written as null; headers
// are name=value pairs joined by TAB-free ';', values through Kafka
// Connect's default SimpleHeaderConverter; a record ExtractNewRecordState
// drops is not written to row.tsv. JSON never holds a raw TAB or newline, so
// the lines split cleanly.
import io.debezium.embedded.Connect;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.debezium.engine.format.ChangeEventFormat;
import io.debezium.transforms.ExtractNewRecordState;
import java.io.BufferedWriter;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.header.Header;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.storage.SimpleHeaderConverter;

public final class Capture {
    private final JsonConverter keyPlain = converter(true, false);
    private final JsonConverter valuePlain = converter(false, false);
    private final JsonConverter keySchema = converter(true, true);
    private final JsonConverter valueSchema = converter(false, true);
    private final SimpleHeaderConverter headers = new SimpleHeaderConverter();
    private final ExtractNewRecordState<SourceRecord> unwrap = new ExtractNewRecordState<>();
    private final BufferedWriter plain, schema, row; // null when not in capture.formats
    private final List<FileOutputStream> files = new ArrayList<>(); // for capture.fsync
    private final boolean valueOnly, fsync;
    private final String stopTopic;
    private final Path ready;
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile Throwable failure;

    private Capture(Properties p, Map<String, String> unwrapConfig) throws IOException {
        Path out = Paths.get(required(p, "capture.out"));
        Files.createDirectories(out);
        List<String> formats = Arrays.asList(p.getProperty("capture.formats", "debezium,debezium+schema,row").split(","));
        for (String f : formats) {
            if (!List.of("debezium", "debezium+schema", "row").contains(f)) {
                throw new IllegalArgumentException("Capture: capture.formats: unknown format " + f + " (debezium, debezium+schema or row)");
            }
        }
        plain = formats.contains("debezium") ? open(out.resolve("debezium.tsv")) : null;
        schema = formats.contains("debezium+schema") ? open(out.resolve("debezium+schema.tsv")) : null;
        row = formats.contains("row") ? open(out.resolve("row.tsv")) : null;
        valueOnly = Boolean.parseBoolean(p.getProperty("capture.value.only", "false"));
        fsync = Boolean.parseBoolean(p.getProperty("capture.fsync", "false"));
        stopTopic = p.getProperty("capture.stop.topic", "");
        ready = p.getProperty("capture.ready") == null ? null : Paths.get(p.getProperty("capture.ready"));
        headers.configure(Map.of());
        unwrap.configure(unwrapConfig);
    }

    private BufferedWriter open(Path path) throws IOException {
        FileOutputStream f = new FileOutputStream(path.toFile());
        files.add(f);
        // An encoder, as Files.newBufferedWriter uses: malformed text is an error, not replaced.
        return new BufferedWriter(new OutputStreamWriter(f, StandardCharsets.UTF_8.newEncoder()), 1 << 16);
    }

    private static void flush(BufferedWriter w) throws IOException {
        if (w != null) {
            w.flush();
        }
    }

    private static void close(BufferedWriter w) throws IOException {
        if (w != null) {
            w.close();
        }
    }

    private static String required(Properties p, String name) {
        String v = p.getProperty(name);
        if (v == null || v.isEmpty()) {
            throw new IllegalArgumentException("Capture: property " + name + " is required");
        }
        return v;
    }

    private static JsonConverter converter(boolean isKey, boolean schemas) {
        JsonConverter c = new JsonConverter();
        c.configure(Map.of("schemas.enable", String.valueOf(schemas)), isKey);
        return c;
    }

    private static String text(byte[] b) {
        return b == null ? "null" : new String(b, StandardCharsets.UTF_8);
    }

    private String headerText(SourceRecord r) {
        StringBuilder sb = new StringBuilder();
        for (Header h : r.headers()) {
            if (sb.length() > 0) {
                sb.append(';');
            }
            sb.append(h.key()).append('=').append(text(headers.fromConnectHeader(r.topic(), h.key(), h.schema(), h.value())));
        }
        return sb.toString();
    }

    private void write(BufferedWriter w, SourceRecord r, JsonConverter k, JsonConverter v) throws IOException {
        if (w == null) {
            return;
        }
        if (valueOnly) {
            w.write(text(v.fromConnectData(r.topic(), r.valueSchema(), r.value())));
            w.write('\n');
            return;
        }
        w.write(r.topic());
        w.write('\t');
        w.write(text(k.fromConnectData(r.topic(), r.keySchema(), r.key())));
        w.write('\t');
        w.write(text(v.fromConnectData(r.topic(), r.valueSchema(), r.value())));
        w.write('\t');
        w.write(headerText(r));
        w.write('\n');
    }

    private void handle(List<RecordChangeEvent<SourceRecord>> records, DebeziumEngine.RecordCommitter<RecordChangeEvent<SourceRecord>> committer)
            throws InterruptedException {
        boolean stop = false;
        try {
            for (RecordChangeEvent<SourceRecord> e : records) {
                SourceRecord r = e.record();
                write(plain, r, keyPlain, valuePlain);
                write(schema, r, keySchema, valueSchema);
                SourceRecord u = row == null ? null : unwrap.apply(r);
                if (u != null) {
                    write(row, u, keyPlain, valuePlain);
                }
                committer.markProcessed(e);
                if (ready != null && r.value() instanceof Struct) {
                    Struct v = (Struct) r.value();
                    if (v.schema().field("source") != null && "last".equals(v.getStruct("source").get("snapshot"))) {
                        flush(plain);
                        Files.write(ready, new byte[0]);
                    }
                }
                if (r.topic().equals(stopTopic) && r.value() instanceof Struct && "c".equals(((Struct) r.value()).get("op"))) {
                    stop = true;
                    break;
                }
            }
            flush(plain);
            flush(schema);
            flush(row);
            if (fsync) {
                for (FileOutputStream f : files) {
                    f.getFD().sync();
                }
            }
        } catch (IOException | RuntimeException ex) {
            failure = ex;
            done.countDown();
            return;
        }
        committer.markBatchFinished();
        if (stop) {
            done.countDown();
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: Capture <config.properties>");
            System.exit(2);
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(Paths.get(args[0]), StandardCharsets.UTF_8)) {
            p.load(r);
        }
        Properties engine = new Properties();
        Map<String, String> unwrapConfig = new HashMap<>();
        for (String name : p.stringPropertyNames()) {
            if (name.startsWith("capture.unwrap.")) {
                unwrapConfig.put(name.substring("capture.unwrap.".length()), p.getProperty(name));
            } else if (!name.startsWith("capture.")) {
                engine.setProperty(name, p.getProperty(name));
            }
        }
        Capture c = new Capture(p, unwrapConfig);
        DebeziumEngine<RecordChangeEvent<SourceRecord>> eng = DebeziumEngine.create(ChangeEventFormat.of(Connect.class))
                .using(engine)
                .notifying(c::handle)
                .using((success, message, error) -> {
                    if (!success) {
                        c.failure = error != null ? error : new RuntimeException(message);
                    }
                    c.done.countDown();
                })
                .build();
        ExecutorService ex = Executors.newSingleThreadExecutor();
        ex.execute(eng);
        c.done.await();
        eng.close();
        ex.shutdown();
        close(c.plain);
        close(c.schema);
        close(c.row);
        if (c.failure != null) {
            c.failure.printStackTrace();
            System.exit(1);
        }
        System.exit(0);
    }
}
