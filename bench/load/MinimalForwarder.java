// Copied from the team's internal peer-bench harness (MinimalForwarder.java), unchanged apart from this line.
// Floor reference for peer-bench: the least a JDK-only Java proxy can do for POST /v1/messages --
// read the body, forward it to the fake upstream, copy status/body back. No JSON parsing, routing,
// budgets or logging, so its overhead is a lower bound for a real gateway on the same box.
// Run (JDK 21+, single-file source launch):  java MinimalForwarder.java
// Env: PORT (default 8090), UPSTREAM (default http://127.0.0.1:9101). Binds to 127.0.0.1 only.
import com.sun.net.httpserver.HttpServer;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.Executors;

public class MinimalForwarder {
  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "8090"));
    URI target = URI.create(System.getenv().getOrDefault("UPSTREAM", "http://127.0.0.1:9101") + "/v1/messages");
    HttpClient client = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(5))
        .executor(Executors.newVirtualThreadPerTaskExecutor())
        .build();
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 1024);
    server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    server.createContext("/v1/messages", ex -> {
      try (ex) {
        if (!"POST".equals(ex.getRequestMethod())) { ex.sendResponseHeaders(405, -1); return; }
        byte[] body;
        try (InputStream in = ex.getRequestBody()) { body = in.readAllBytes(); }
        HttpRequest.Builder rb = HttpRequest.newBuilder(target)
            .timeout(Duration.ofSeconds(600))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        for (String h : new String[] {"x-api-key", "anthropic-version", "anthropic-beta"}) {
          String v = ex.getRequestHeaders().getFirst(h);
          if (v != null) rb.header(h, v);
        }
        HttpResponse<byte[]> up = client.send(rb.build(), HttpResponse.BodyHandlers.ofByteArray());
        up.headers().firstValue("content-type").ifPresent(v -> ex.getResponseHeaders().set("content-type", v));
        byte[] out = up.body();
        ex.sendResponseHeaders(up.statusCode(), out.length == 0 ? -1 : out.length);
        try (OutputStream os = ex.getResponseBody()) { os.write(out); }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (Exception e) {
        try { ex.sendResponseHeaders(502, -1); } catch (Exception ignored) { }
      }
    });
    server.start();
    System.out.println("MinimalForwarder on http://127.0.0.1:" + port + " -> " + target);
  }
}
