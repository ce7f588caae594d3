// Ledger check for bench/load/run: rows of a Tiergate ledger by status, and open reservations. Uses the SQLite and
// PostgreSQL drivers inside the gateway's jar, so nothing else is needed:
//   java -cp cli/target/tiergate.jar bench/load/LedgerCheck.java /path/to/ledger.db [EXPECTED_MIN [SLACK]]
//   java -cp cli/target/tiergate.jar bench/load/LedgerCheck.java jdbc:postgresql://... [EXPECTED_MIN [SLACK]]
// (PostgreSQL: the schema `tiergate`, as bench/load/run --postgres configures it; the user and password in the URL)
// With EXPECTED_MIN: exit 1 unless EXPECTED_MIN <= ok rows <= EXPECTED_MIN + SLACK, no other status, and no
// open reservation. Reads the tables `ledger` and `reservation` (store/.../migrations/sqlite/V1__ledger.sql, V5).
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Map;

public class LedgerCheck {
  public static void main(String[] args) throws Exception {
    if (args.length < 1) { System.err.println("usage: LedgerCheck LEDGER.db|JDBC_URL [EXPECTED_MIN [SLACK]]"); System.exit(2); }
    Map<String, Long> byStatus = new LinkedHashMap<>();
    long open;
    boolean postgres = args[0].startsWith("jdbc:postgresql:");
    try (Connection c = DriverManager.getConnection(postgres ? args[0] : "jdbc:sqlite:file:" + args[0] + "?mode=ro");
         Statement s = c.createStatement()) {
      if (postgres) {
        s.execute("SET search_path TO tiergate");
      }
      // schema V5 on: a call settled but not folded into the ledger yet is its reservation's row, status set (a
      // gateway folds before it stops; one killed first leaves them for the next start to fold)
      boolean inPlace;
      if (postgres) {
        inPlace = false; // PostgreSQL settles into the ledger directly
      } else {
        try (ResultSet r = s.executeQuery("SELECT COUNT(*) FROM pragma_table_info('reservation') WHERE name = 'status'")) {
          r.next(); inPlace = r.getLong(1) == 1;
        }
      }
      String rows = inPlace
          ? "(SELECT status FROM ledger UNION ALL SELECT status FROM reservation WHERE status IS NOT NULL)" : "ledger";
      try (ResultSet r = s.executeQuery("SELECT status, COUNT(*) FROM " + rows + " GROUP BY status ORDER BY 2 DESC")) {
        while (r.next()) byStatus.put(r.getString(1), r.getLong(2));
      }
      try (ResultSet r = s.executeQuery("SELECT COUNT(*) FROM reservation" + (inPlace ? " WHERE status IS NULL" : ""))) {
        r.next(); open = r.getLong(1);
      }
    }
    long ok = byStatus.getOrDefault("ok", 0L);
    long other = byStatus.values().stream().mapToLong(Long::longValue).sum() - ok;
    System.out.println("ledger rows by status: " + (byStatus.isEmpty() ? "(none)" : byStatus));
    System.out.println("open reservations: " + open);
    if (args.length >= 2) {
      long min = Long.parseLong(args[1]), slack = args.length >= 3 ? Long.parseLong(args[2]) : 0;
      boolean pass = ok >= min && ok <= min + slack && other == 0 && open == 0;
      System.out.printf("ledger check: %s (ok rows %d, gateway responses counted client-side %d, allowed extra for "
          + "requests in flight when a wrk run stopped: %d; rows with another status %d; open reservations %d)%n",
          pass ? "PASS" : "FAIL", ok, min, slack, other, open);
      System.exit(pass ? 0 : 1);
    }
  }
}
