import java.math.*;
import java.time.*;
import java.util.*;
import org.apache.kafka.connect.data.*;
import org.apache.kafka.connect.json.JsonConverter;
import io.debezium.connector.mysql.jdbc.MySqlValueConverters;
import io.debezium.connector.mysql.antlr.MySqlAntlrDdlParser;
import io.debezium.connector.mysql.charset.MySqlCharsetRegistry;
import io.debezium.relational.*;
import io.debezium.jdbc.*;
import io.debezium.config.CommonConnectorConfig;
import io.debezium.service.spi.*;

public class MySqlCheck {
  public static void main(String[] args) throws Exception {
    ServiceRegistry reg = new ServiceRegistry() {
      @SuppressWarnings("unchecked") public <T extends io.debezium.service.Service> T getService(Class<T> c) { return (T) new MySqlCharsetRegistry(); }
      public <T extends io.debezium.service.Service> void registerServiceProvider(ServiceProvider<T> p) {}
      public void close() {}
    };
    MySqlValueConverters conv = new MySqlValueConverters(JdbcValueConverters.DecimalMode.PRECISE, TemporalPrecisionMode.ADAPTIVE_TIME_MICROSECONDS,
        JdbcValueConverters.BigIntUnsignedMode.LONG, CommonConnectorConfig.BinaryHandlingMode.BYTES, MySqlValueConverters::adjustTemporal,
        CommonConnectorConfig.EventConvertingFailureHandlingMode.WARN, reg);
    MySqlAntlrDdlParser parser = new MySqlAntlrDdlParser();
    parser.setCurrentDatabase("inventory");
    Tables tables = new Tables();
    parser.parse(String.join("\n", Arrays.asList(new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).lines().toArray(String[]::new))), tables);
    Table t = tables.forTable(new TableId("inventory", null, "t"));
    // values: column name -> list of java objects as the binlog (and JDBC snapshot) deliver them
    Map<String, Object[]> vals = new LinkedHashMap<>();
    vals.put("dt0", new Object[]{LocalDateTime.of(2024,2,29,23,59,59), LocalDateTime.of(1969,12,31,23,59,59)});
    vals.put("dt3", new Object[]{LocalDateTime.of(2024,2,29,23,59,59,123_000_000)});
    vals.put("dt4", new Object[]{LocalDateTime.of(2024,2,29,23,59,59,123_400_000)});
    vals.put("dt6", new Object[]{LocalDateTime.of(2024,2,29,23,59,59,123_456_000), LocalDateTime.of(1000,1,1,0,0,0)});
    vals.put("ts0", new Object[]{ZonedDateTime.of(2038,1,19,3,14,7,0,ZoneOffset.UTC), java.sql.Timestamp.from(Instant.parse("2038-01-19T03:14:07Z"))});
    vals.put("ts3", new Object[]{ZonedDateTime.of(2038,1,19,3,14,7,500_000_000,ZoneOffset.UTC), java.sql.Timestamp.from(Instant.parse("2038-01-19T03:14:07.500Z")), ZonedDateTime.of(2038,1,19,3,14,7,0,ZoneOffset.UTC)});
    vals.put("ts6", new Object[]{ZonedDateTime.of(2020,1,1,0,0,0,123_450_000,ZoneOffset.UTC)});
    vals.put("d", new Object[]{LocalDate.of(9999,12,31), LocalDate.of(1000,1,1)});
    vals.put("tm0", new Object[]{Duration.ofHours(12).plusMinutes(34).plusSeconds(56), Duration.ofHours(-838).minusMinutes(59).minusSeconds(59)});
    vals.put("tm3", new Object[]{Duration.ofHours(1).plusMillis(5)});
    vals.put("tm6", new Object[]{Duration.ofHours(838).plusMinutes(59).plusSeconds(59).plusNanos(999_999_000)});
    vals.put("yr", new Object[]{Year.of(2155), Year.of(1901)});
    vals.put("en", new Object[]{2, "b'q"});
    vals.put("st", new Object[]{5L, "x,z", 0L});
    vals.put("b1", new Object[]{bits(1, 1), Boolean.TRUE});
    vals.put("b12", new Object[]{bits(12, 0xAAA), new byte[]{0x0A, (byte)0xAA}});
    vals.put("b16", new Object[]{bits(16, 0x0102), new byte[]{0x01, 0x02}, new byte[]{0x02}});
    vals.put("b64", new Object[]{new byte[]{(byte)0x80,0,0,0,0,0,0,1}});
    vals.put("js", new Object[]{"{\"a\": [1, 2.5, \"é\"]}"});
    vals.put("tiu", new Object[]{-1, (short)255});
    vals.put("siu", new Object[]{-1, 65535});
    vals.put("miu", new Object[]{-1, 16777215});
    vals.put("iu", new Object[]{-1, 4294967295L});
    vals.put("biu", new Object[]{-1L, new BigInteger("18446744073709551615"), new BigInteger("9223372036854775808")});
    vals.put("ti", new Object[]{-128});
    vals.put("mi", new Object[]{-8388608});
    vals.put("fl", new Object[]{1.5f});
    vals.put("dc", new Object[]{new BigDecimal("1.20")});
    vals.put("bin", new Object[]{new byte[]{0}});
    JsonConverter jc = new JsonConverter();
    jc.configure(Map.of("schemas.enable", "true", "converter.type", "value"));
    for (Column c : t.columns()) {
      SchemaBuilder sb = conv.schemaBuilder(c);
      if (c.isOptional()) sb.optional();
      Schema fs = sb.build();
      Schema st = SchemaBuilder.struct().field(c.name(), fs).build();
      Field f = st.field(c.name());
      ValueConverter vc = conv.converter(c, f);
      Object[] in = vals.getOrDefault(c.name(), new Object[]{});
      StringBuilder out = new StringBuilder();
      out.append(c.name()).append(" typeName=").append(c.typeName()).append(" jdbc=").append(c.jdbcType()).append(" len=").append(c.length()).append("\n");
      if (in.length == 0) continue;
      boolean first = true;
      for (Object o : in) {
        Struct s = new Struct(st);
        Object cv = vc.convert(o);
        s.put(f, cv);
        String j = new String(jc.fromConnectData("x", st, s));
        if (first) { out.append("  schema ").append(j.substring(0, j.indexOf(",\"payload\""))).append("\n"); first = false; }
        out.append("  in ").append(o instanceof byte[] ? Arrays.toString((byte[])o) : o + " (" + o.getClass().getSimpleName() + ")").append(" -> ").append(j.substring(j.indexOf("\"payload\":")+10)).append("\n");
      }
      System.out.print(out);
    }
  }
  static BitSet bits(int n, long v) { BitSet b = new BitSet(n); for (int i = 0; i < n; i++) if (((v >> i) & 1) != 0) b.set(i); return b; }
}
