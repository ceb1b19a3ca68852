import java.util.*;
import org.apache.kafka.connect.data.*;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.source.SourceRecord;
import org.bson.*;
import com.mongodb.client.model.changestream.*;
import io.debezium.config.Configuration;
import io.debezium.connector.SnapshotRecord;
import io.debezium.connector.mongodb.*;
import io.debezium.connector.mongodb.transforms.ExtractNewDocumentState;
import io.debezium.data.Envelope;

// Prints what Debezium 2.7.3.Final's MongoDB connector and ExtractNewDocumentState
// write (through JsonConverter) for the change events of format/mongo_fixtures_test.go.
public class MongoCheck {
  static JsonConverter conv(boolean schemas, boolean key) {
    JsonConverter c = new JsonConverter();
    c.configure(Map.of("schemas.enable", String.valueOf(schemas), "converter.type", key ? "key" : "value"));
    return c;
  }
  static final JsonConverter KS = conv(true, true), K = conv(false, true), VS = conv(true, false), V = conv(false, false);

  public static void main(String[] args) throws Exception {
    Configuration cfg = Configuration.create().with("topic.prefix", "mongo").with("mongodb.connection.string", "mongodb://localhost:27017/").build();
    MongoDbConnectorConfig config = new MongoDbConnectorConfig(cfg);
    io.debezium.connector.SourceInfoStructMaker<SourceInfo> maker = config.getSourceInfoStructMaker();
    MongoDbSchema schema = new MongoDbSchema(new Filters(cfg), config.getTopicNamingStrategy(MongoDbConnectorConfig.TOPIC_NAMING_STRATEGY), maker.schema(), config.schemaNameAdjuster());
    CollectionId coll = new CollectionId("shop", "orders");
    MongoDbCollectionSchema cs = (MongoDbCollectionSchema) schema.schemaFor(coll);

    List<String> lines = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, "UTF-8")).lines().toList();
    Map<String, BsonDocument> docs = new LinkedHashMap<>();
    for (String l : lines) {
      if (l.isBlank() || l.startsWith("#")) continue;
      int sp = l.indexOf(' ');
      docs.put(l.substring(0, sp), BsonDocument.parse(l.substring(sp + 1)));
    }
    List<Object[]> events = new ArrayList<>(); // name, SourceRecord
    // Snapshot rows.
    int n = 0;
    for (String name : new String[]{"all", "simple"}) {
      SourceInfo si = new SourceInfo(config);
      si.startInitialSnapshot();
      // The snapshot's position: the resume token of the change stream opened
      // before it, without a cluster time (MongoDbSnapshotChangeEventSource).
      java.lang.reflect.Method noEvent = SourceInfo.class.getDeclaredMethod("noEvent", String.class);
      noEvent.setAccessible(true);
      noEvent.invoke(si, "8265A1B2C3000000012B0429296E1404");
      si.collectionEvent(coll, 0L);
      boolean last = name.equals("simple");
      if (last) si.setSnapshot(SnapshotRecord.LAST);
      Struct v = cs.valueFromDocumentSnapshot(docs.get(name), Envelope.Operation.READ);
      v.put("source", maker.struct(si));
      v.put("op", "r");
      v.put("ts_ms", 1700000000999L);
      events.add(new Object[]{"snapshot read " + name, rec(cs, cs.keyFromDocument(docs.get(name)), v)});
    }
    // Changes.
    String[][] changes = {
      // name, op, after, before, clusterTime sec, inc, wallTime, txn
      {"insert all", "insert", "all", null, "1700000001", "3", "1700000001123", null},
      {"update with pre-image", "update", "simple2", "simple", "1700000002", "1", "1700000002456", null},
      {"replace without pre-image", "replace", "simple2", null, "1700000003", "7", "1700000003000", null},
      {"delete with pre-image", "delete", null, "simple2", "1700000004", "1", "1700000004001", null},
      {"delete without pre-image", "delete", null, null, "1700000005", "2", "1700000005002", null},
      {"transaction insert 1", "insert", "txn1", null, "1700000006", "9", "1700000006100", "42"},
      {"transaction insert 2", "insert", "txn2", null, "1700000006", "9", "1700000006100", "42"},
      {"insert string id", "insert", "strid", null, "1700000007", "1", "1700000007000", null},
      {"insert int id", "insert", "intid", null, "1700000008", "1", "1700000008000", null},
    };
    for (String[] c : changes) {
      BsonDocument after = c[2] == null ? null : docs.get(c[2]);
      BsonDocument before = c[3] == null ? null : docs.get(c[3]);
      BsonDocument any = after != null ? after : before != null ? before : docs.get("simple2");
      BsonDocument key = new BsonDocument("_id", any.get("_id"));
      BsonDocument ns = new BsonDocument("db", new BsonString("shop")).append("coll", new BsonString("orders"));
      BsonDocument token = new BsonDocument("_data", new BsonString("8265" + c[4]));
      BsonInt64 txn = c[7] == null ? null : new BsonInt64(Long.parseLong(c[7]));
      BsonDocument lsid = c[7] == null ? null : BsonDocument.parse("{\"id\": {\"$binary\": {\"base64\": \"FA7YEzXgQXSX9OxmzllH2w==\", \"subType\": \"04\"}}, \"uid\": {\"$binary\": {\"base64\": \"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\", \"subType\": \"00\"}}}");
      ChangeStreamDocument<BsonDocument> ev = new ChangeStreamDocument<>(c[1], token, ns, null, after, before, key,
          new BsonTimestamp(Integer.parseInt(c[4]), Integer.parseInt(c[5])), null, txn, lsid, new BsonDateTime(Long.parseLong(c[6])), null, null);
      SourceInfo si = new SourceInfo(config);
      si.changeStreamEvent(ev);
      Envelope.Operation op = switch (c[1]) { case "insert" -> Envelope.Operation.CREATE; case "delete" -> Envelope.Operation.DELETE; default -> Envelope.Operation.UPDATE; };
      Struct v = cs.valueFromDocumentChangeStream(ev, op);
      v.put("source", maker.struct(si));
      v.put("op", op.code());
      v.put("ts_ms", 1700000009999L);
      events.add(new Object[]{c[0], rec(cs, cs.keyFromDocument(key), v)});
    }
    String mode = args.length > 0 ? args[0] : "envelope";
    for (Object[] e : events) {
      SourceRecord r = (SourceRecord) e[1];
      System.out.println("# " + e[0]);
      switch (mode) {
        case "envelope" -> {
          System.out.println("key: " + new String(K.fromConnectData("t", r.keySchema(), r.key())));
          System.out.println("value: " + new String(V.fromConnectData("t", r.valueSchema(), r.value())));
        }
        case "envelope+schema" -> {
          System.out.println("key: " + new String(KS.fromConnectData("t", r.keySchema(), r.key())));
          System.out.println("value: " + new String(VS.fromConnectData("t", r.valueSchema(), r.value())));
        }
        default -> { // row: args[1..] are ExtractNewDocumentState settings k=v
          ExtractNewDocumentState<SourceRecord> smt = new ExtractNewDocumentState<>();
          Map<String, String> m = new HashMap<>();
          for (int i = 1; i < args.length; i++) { String[] kv = args[i].split("=", 2); m.put(kv[0], kv[1]); }
          smt.configure(m);
          try {
            SourceRecord o = smt.apply(r);
            if (o == null) { System.out.println("value: (no output)"); continue; }
            System.out.println("key: " + new String(K.fromConnectData("t", o.keySchema(), o.key())));
            byte[] b = V.fromConnectData("t", o.valueSchema(), o.value());
            System.out.println("value: " + (b == null ? "null" : new String(b)));
          } catch (Exception ex) {
            System.out.println("error: " + ex.getClass().getSimpleName() + ": " + ex.getMessage().split("\n")[0]);
          }
        }
      }
    }
  }
  static SourceRecord rec(MongoDbCollectionSchema cs, Struct key, Struct value) {
    return new SourceRecord(Map.of(), Map.of(), "mongo.shop.orders", cs.keySchema(), key, cs.valueSchema(), value);
  }
}
