package dev.tiergate.gateway;

import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDate;

/** Runs a gateway in its own JVM for the crash test: prints "PORT n" once listening, then serves until killed. */
public final class GatewayChildMain {
    private GatewayChildMain() {}

    public static void main(String[] args) throws InterruptedException {
        GatewayConfig config = GatewayConfig.load(Path.of(args[0]), System.getenv(), LocalDate.of(2026, 11, 29));
        Gateway gateway = Gateway.start(config, CallRecorder.log(), Clock.systemUTC());
        System.out.println("PORT " + gateway.port());
        System.out.flush();
        new java.util.concurrent.CountDownLatch(1).await();
    }
}
