import java.util.*;
import org.bson.*;
import org.bson.json.*;
import com.mongodb.BasicDBObject;
public class Exotic {
  public static void main(String[] a) throws Exception {
    JsonWriterSettings strict = JsonWriterSettings.builder().outputMode(JsonMode.STRICT).indent(true).indentCharacters("").newLineCharacters("").build();
    JsonWriterSettings relaxed = JsonWriterSettings.builder().outputMode(JsonMode.RELAXED).indent(true).indentCharacters("").newLineCharacters("").build();
    for (String l : new java.io.BufferedReader(new java.io.InputStreamReader(System.in, "UTF-8")).lines().toList()) {
      if (l.isBlank() || l.startsWith("#")) continue;
      BsonDocument d = BsonDocument.parse(l.substring(l.indexOf(' ') + 1));
      System.out.println("strict: " + d.toJson(strict));
      for (Map.Entry<String, BsonValue> e : d.entrySet()) {
        String k = new BasicDBObject("_", e.getValue()).toJson(relaxed);
        System.out.println("relaxed " + e.getKey() + ": " + k.substring(6, k.length() - 1));
      }
    }
  }
}
