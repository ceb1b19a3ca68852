// Transforms applies a Kafka Connect transform chain — the real classes of
// connect-transforms and Debezium's debezium-core, with their predicates —
// to records given as JsonConverter JSON with schemas, and prints what the
// chain hands on, through JsonConverter without schemas: one line per
// record that survives, "<topic> <key> <value>" (value null for a
// tombstone). frontdoor/connect's TestTransformsDifferential runs it on
// the classpath of scripts/debezium.sh (SLUICE_DEBEZIUM/lib) and compares
// with what sluice's translation of the same configuration does.
//
//   java -cp "$SLUICE_DEBEZIUM/lib/*:CLASSES" Transforms chain.properties records.jsonl
//
// chain.properties holds a connector's transforms and predicates keys
// (class names written in full); records.jsonl one {"topic", "key",
// "value"} object a line.
import java.io.BufferedReader;
import java.io.FileReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.transforms.Transformation;
import org.apache.kafka.connect.transforms.predicates.Predicate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

public class Transforms {
    static final class Step {
        Transformation<SourceRecord> t;
        Predicate<SourceRecord> p;
        boolean negate;
    }

    static List<String> list(String s) {
        List<String> out = new ArrayList<>();
        if (s == null) return out;
        for (String p : s.split(",")) {
            if (!p.trim().isEmpty()) out.add(p.trim());
        }
        return out;
    }

    static Map<String, String> sub(Map<String, String> cfg, String prefix) {
        Map<String, String> out = new HashMap<>();
        for (Map.Entry<String, String> e : cfg.entrySet()) {
            if (e.getKey().startsWith(prefix) && !e.getKey().equals(prefix + "type")) {
                out.put(e.getKey().substring(prefix.length()), e.getValue());
            }
        }
        return out;
    }

    static JsonConverter converter(boolean schemas, boolean key) {
        JsonConverter c = new JsonConverter();
        Map<String, String> m = new HashMap<>();
        m.put("schemas.enable", Boolean.toString(schemas));
        c.configure(m, key);
        return c;
    }

    @SuppressWarnings("unchecked")
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        try (FileReader r = new FileReader(args[0], StandardCharsets.UTF_8)) {
            props.load(r);
        }
        Map<String, String> cfg = new HashMap<>();
        for (String k : props.stringPropertyNames()) cfg.put(k, props.getProperty(k));
        Map<String, Predicate<SourceRecord>> preds = new HashMap<>();
        for (String n : list(cfg.get("predicates"))) {
            Predicate<SourceRecord> p = (Predicate<SourceRecord>) Class.forName(cfg.get("predicates." + n + ".type")).getDeclaredConstructor().newInstance();
            p.configure(sub(cfg, "predicates." + n + "."));
            preds.put(n, p);
        }
        List<Step> chain = new ArrayList<>();
        for (String a : list(cfg.get("transforms"))) {
            String pre = "transforms." + a + ".";
            Step s = new Step();
            s.t = (Transformation<SourceRecord>) Class.forName(cfg.get(pre + "type")).getDeclaredConstructor().newInstance();
            Map<String, String> c = sub(cfg, pre);
            String pn = c.remove("predicate");
            String neg = c.remove("negate");
            s.t.configure(c);
            if (pn != null) s.p = preds.get(pn);
            s.negate = "true".equals(neg);
            chain.add(s);
        }
        JsonConverter inKey = converter(true, true), inValue = converter(true, false);
        JsonConverter outKey = converter(false, true), outValue = converter(false, false);
        ObjectMapper m = new ObjectMapper();
        StringBuilder out = new StringBuilder();
        try (BufferedReader in = new BufferedReader(new FileReader(args[1], StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null;) {
                if (line.isEmpty()) continue;
                JsonNode n = m.readTree(line);
                String topic = n.get("topic").asText();
                SchemaAndValue k = inKey.toConnectData(topic, m.writeValueAsBytes(n.get("key")));
                SchemaAndValue v = n.get("value").isNull() ? SchemaAndValue.NULL : inValue.toConnectData(topic, m.writeValueAsBytes(n.get("value")));
                SourceRecord rec = new SourceRecord(new HashMap<>(), new HashMap<>(), topic, 0, k.schema(), k.value(), v.schema(), v.value());
                for (Step s : chain) {
                    if (rec == null) break;
                    boolean apply = s.p == null || (s.p.test(rec) ^ s.negate);
                    if (apply) rec = s.t.apply(rec);
                }
                if (rec == null) continue;
                byte[] kb = outKey.fromConnectData(rec.topic(), rec.keySchema(), rec.key());
                byte[] vb = outValue.fromConnectData(rec.topic(), rec.valueSchema(), rec.value());
                out.append(rec.topic()).append(' ')
                        .append(kb == null ? "null" : new String(kb, StandardCharsets.UTF_8)).append(' ')
                        .append(vb == null ? "null" : new String(vb, StandardCharsets.UTF_8)).append('\n');
            }
        }
        System.out.print(out);
    }
}
