/*
 * Starts AWS's DynamoDB Local bound to 127.0.0.1 only.
 *
 * DynamoDB Local's own entry point (ServerRunner.main) has no host flag: Jetty
 * listens on every interface, and main() also configures usage telemetry sent
 * to AWS. This launcher builds the same server from the same command-line
 * arguments, then, before starting it:
 *   - binds its connector to 127.0.0.1 and to the requested port (0 = any free
 *     port, which DynamoDB Local's own flag parser rejects);
 *   - starts Jetty directly, so no telemetry is ever configured or sent.
 *
 * Protocol with the Node side (local/emulators/dynamodb-local.ts), one line each:
 *   stdout  RUNLANE_DYNAMODB_LOCAL_READY <host> <port>
 *   stderr  RUNLANE_DYNAMODB_LOCAL_FAILED <reason> <port> <message>
 * and the process exits when its stdin closes, so it never outlives the Node
 * process that started it, even if that process is killed with SIGKILL.
 *
 * Usage: java -Djava.library.path=<DynamoDBLocal_lib> -cp <DynamoDBLocal.jar>:<dir>
 *          LoopbackDynamoDbLocal <port> <DynamoDB Local flags...>
 */
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.net.BindException;
import java.util.Arrays;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public final class LoopbackDynamoDbLocal {
  private static final String HOST = "127.0.0.1";
  /** Any valid value: DynamoDB Local's flag parser rejects 0; the connector port is replaced below. */
  private static final String PLACEHOLDER_PORT = "8000";

  private LoopbackDynamoDbLocal() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      fail("usage", 0, "expected <port> <DynamoDB Local flags...>");
      return;
    }
    final int port = Integer.parseInt(args[0]);
    String[] flags = Arrays.copyOfRange(args, 1, args.length + 2);
    flags[flags.length - 2] = "-port";
    flags[flags.length - 1] = PLACEHOLDER_PORT;

    // DynamoDB Local prints a banner naming the placeholder port; keep stdout for the protocol line.
    PrintStream protocol = System.out;
    System.setOut(new PrintStream(OutputStream.nullOutputStream()));

    DynamoDBProxyServer proxy;
    try {
      proxy = ServerRunner.createServerFromCommandLineArgs(flags);
    } catch (Exception e) {
      fail("invalid_arguments", port, String.valueOf(e.getMessage()));
      return;
    }
    Field serverField = DynamoDBProxyServer.class.getDeclaredField("server");
    serverField.setAccessible(true);
    Server server = (Server) serverField.get(proxy);
    ServerConnector connector = null;
    for (Connector candidate : server.getConnectors()) {
      if (candidate instanceof ServerConnector serverConnector) {
        serverConnector.setHost(HOST);
        serverConnector.setPort(port);
        connector = serverConnector;
      }
    }
    if (connector == null) {
      fail("no_connector", port, "DynamoDB Local has no ServerConnector to bind");
      return;
    }

    try {
      server.start();
    } catch (Exception e) {
      fail(isBindFailure(e) ? "port_in_use" : "start_failed", port, e.toString());
      return;
    }
    if (connector.getLocalPort() <= 0) {
      fail("start_failed", port, "the connector did not open a port");
      return;
    }

    final DynamoDBProxyServer running = proxy;
    Thread watchdog = new Thread(() -> {
      try {
        while (System.in.read() != -1) {
          // Input is ignored; only end-of-stream matters.
        }
      } catch (Exception ignored) {
        // A broken pipe means the parent is gone too.
      }
      shutdown(running);
    }, "runlane-parent-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();

    protocol.println("RUNLANE_DYNAMODB_LOCAL_READY " + HOST + " " + connector.getLocalPort());
    protocol.flush();
    server.join();
  }

  private static void shutdown(DynamoDBProxyServer proxy) {
    // Stop gracefully so a file-backed database is closed cleanly, but never hang on it.
    Thread deadline = new Thread(() -> {
      try {
        Thread.sleep(3000);
      } catch (InterruptedException ignored) {
        // Fall through to halt.
      }
      Runtime.getRuntime().halt(0);
    }, "runlane-shutdown-deadline");
    deadline.setDaemon(true);
    deadline.start();
    try {
      proxy.stop();
    } catch (Exception ignored) {
      // Exiting anyway.
    }
    Runtime.getRuntime().halt(0);
  }

  /** Jetty wraps the BindException in an IOException ("Failed to bind to ..."). */
  private static boolean isBindFailure(Throwable error) {
    for (Throwable cause = error; cause != null; cause = cause.getCause()) {
      if (cause instanceof BindException) return true;
    }
    return false;
  }

  private static void fail(String reason, int port, String message) {
    System.err.println("RUNLANE_DYNAMODB_LOCAL_FAILED " + reason + " " + port + " " + message.replace('\n', ' '));
    System.err.flush();
    Runtime.getRuntime().halt(2);
  }
}
