// Diff answers questions about Java's own behaviour, one per input line, so
// that sluice's tests compare its Java-compatible functions with Java
// itself. Each line is an operation and tab-separated arguments; each answer
// is "OK<TAB>result" or "ERR" (Java threw), one line per question.
//
// Operations:
//   F   pattern micros zone   DateTimeFormatter.ofPattern(pattern, en) of the instant in zone
//   FD  pattern days          ... of a LocalDate
//   FT  pattern micros        ... of a LocalTime (microseconds of the day)
//   P   pattern text zone     ksqlDB's StringToTimestampParser: micros since the epoch
//   PD  pattern text          LocalDate.parse with a case-insensitive formatter (en)
//   PT  pattern text          ksqlDB's PARSE_TIME: micros of the day
//   D   bits                  Double.toString of the double with these bits (hex)
//   PDBL text                 Double.parseDouble: bits in hex
//   DEC double precision scale  new BigDecimal(d, new MathContext(p)).setScale(s, HALF_UP).toPlainString()
//   BDS text                  new BigDecimal(text).toString()
//   MATH fn bits [bits]       ksqlDB 0.28's math UDF fn (ACOS … TANH, as its
//                             udf/math classes compute it) of the doubles with
//                             these bits (hex): the result's bits in hex
import java.io.*;
import java.math.*;
import java.nio.charset.StandardCharsets;
import java.time.*;
import java.time.format.*;
import java.time.temporal.*;
import java.util.*;

public class Diff {
  public static void main(String[] args) throws IOException {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    PrintStream out = new PrintStream(new BufferedOutputStream(System.out), false, "UTF-8");
    String line;
    while ((line = in.readLine()) != null) {
      String[] a = line.split("\t", -1);
      String r;
      try {
        r = "OK\t" + answer(a);
      } catch (Exception e) {
        r = "ERR";
      }
      out.println(r.replace("\n", "\\n"));
    }
    out.flush();
  }

  static long micros(Instant i) {
    return Math.addExact(Math.multiplyExact(i.getEpochSecond(), 1_000_000L), i.getNano() / 1000);
  }

  static Instant instant(long micros) {
    return Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000);
  }

  static String answer(String[] a) {
    switch (a[0]) {
      case "F":
        return DateTimeFormatter.ofPattern(a[1], Locale.ENGLISH).format(instant(Long.parseLong(a[2])).atZone(ZoneId.of(a[3])));
      case "FD":
        return DateTimeFormatter.ofPattern(a[1], Locale.ENGLISH).format(LocalDate.ofEpochDay(Long.parseLong(a[2])));
      case "FT":
        return DateTimeFormatter.ofPattern(a[1], Locale.ENGLISH).format(LocalTime.ofNanoOfDay(Long.parseLong(a[2]) * 1000));
      case "P":
        return Long.toString(micros(ksqlParse(a[1], a[2], ZoneId.of(a[3])).toInstant()));
      case "PD": {
        DateTimeFormatter f = new DateTimeFormatterBuilder().parseCaseInsensitive().appendPattern(a[1]).toFormatter(Locale.ENGLISH);
        return Long.toString(LocalDate.parse(a[2], f).toEpochDay());
      }
      case "PT": {
        DateTimeFormatter f = new DateTimeFormatterBuilder().parseCaseInsensitive().appendPattern(a[1]).toFormatter(Locale.ENGLISH);
        TemporalAccessor ta = f.parse(a[2]);
        for (ChronoField cf : ChronoField.values()) {
          if (cf.isDateBased() && ta.isSupported(cf)) {
            throw new IllegalArgumentException("date field");
          }
        }
        return Long.toString(LocalTime.from(ta).toNanoOfDay() / 1000);
      }
      case "D":
        return Double.toString(Double.longBitsToDouble(Long.parseUnsignedLong(a[1], 16)));
      case "PDBL":
        return Long.toHexString(Double.doubleToRawLongBits(Double.parseDouble(a[1])));
      case "DEC":
        return new BigDecimal(Double.parseDouble(a[1]), new MathContext(Integer.parseInt(a[2])))
            .setScale(Integer.parseInt(a[3]), RoundingMode.HALF_UP).toPlainString();
      case "BDS":
        return new BigDecimal(a[1]).toString();
      case "MATH": {
        double x = dbl(a[2]), y = a.length > 3 ? dbl(a[3]) : 0;
        return Long.toHexString(Double.doubleToRawLongBits(math(a[1], x, y)));
      }
      default:
        throw new IllegalArgumentException(a[0]);
    }
  }

  static double dbl(String bits) {
    return Double.longBitsToDouble(Long.parseUnsignedLong(bits, 16));
  }

  static double math(String fn, double x, double y) {
    switch (fn) {
      case "ACOS": return Math.acos(x);
      case "ASIN": return Math.asin(x);
      case "ATAN": return Math.atan(x);
      case "ATAN2": return Math.atan2(x, y);
      case "COS": return Math.cos(x);
      case "COSH": return Math.cosh(x);
      case "COT": return 1 / Math.tan(x);
      case "DEGREES": return Math.toDegrees(x);
      case "EXP": return Math.exp(x);
      case "LN": return Math.log(x);
      case "POWER": return Math.pow(x, y);
      case "RADIANS": return Math.toRadians(x);
      case "SIN": return Math.sin(x);
      case "SINH": return Math.sinh(x);
      case "SQRT": return Math.sqrt(x);
      case "TAN": return Math.tan(x);
      case "TANH": return Math.tanh(x);
      default: throw new IllegalArgumentException(fn);
    }
  }

  // ksqlParse parses as ksqlDB 0.28's StringToTimestampParser: a strict,
  // case-insensitive Locale.ROOT formatter; then every field the parse
  // supports, in ChronoField order, is set on 1970-01-01T00:00 in the parsed
  // zone (else the given one); a day-of-year 366 sets the year first.
  static ZonedDateTime ksqlParse(String pattern, String text, ZoneId zone) {
    DateTimeFormatter f = new DateTimeFormatterBuilder().parseCaseInsensitive().appendPattern(pattern).toFormatter(Locale.ROOT);
    TemporalAccessor parsed = f.parse(text);
    ZoneId z = parsed.query(TemporalQueries.zone());
    ZonedDateTime t = ZonedDateTime.of(1970, 1, 1, 0, 0, 0, 0, z != null ? z : zone);
    for (ChronoField cf : ChronoField.values()) {
      if (!parsed.isSupported(cf)) {
        continue;
      }
      if (!t.isSupported(cf)) {
        throw new IllegalArgumentException("unsupported field " + cf);
      }
      long v = parsed.getLong(cf);
      if (cf == ChronoField.DAY_OF_YEAR && v == 366) {
        if (!parsed.isSupported(ChronoField.YEAR)) {
          throw new IllegalArgumentException("leap day without a year");
        }
        t = t.withYear(parsed.get(ChronoField.YEAR));
      }
      t = t.with(cf, v);
    }
    return t;
  }
}
