/*
 * TcpRelay: a loopback TCP relay shared by the Java-based client tests (ZkdJavaTest,
 * CuratorTest). The client connects through it; cut() drops every relayed connection and
 * refuses new ones (the server sees nothing: the session lives on), restore() lets
 * clients back in. Used to force reconnects and session expiry without touching the server.
 */
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

public final class TcpRelay implements AutoCloseable {
    final ServerSocket ss;
    final InetSocketAddress up;
    final List<Socket> live = new ArrayList<>();
    volatile boolean blocked;
    volatile boolean closed;

    TcpRelay(String upstream) throws IOException {
        int i = upstream.lastIndexOf(':');
        up = new InetSocketAddress(upstream.substring(0, i), Integer.parseInt(upstream.substring(i + 1)));
        ss = new ServerSocket(0, 16, InetAddress.getByName("127.0.0.1"));
        Thread t = new Thread(this::acceptLoop, "proxy-accept");
        t.setDaemon(true);
        t.start();
    }

    String hostport() {
        return "127.0.0.1:" + ss.getLocalPort();
    }

    void acceptLoop() {
        while (!closed) {
            try {
                Socket c = ss.accept();
                if (blocked) {
                    c.close();
                    continue;
                }
                Socket s = new Socket();
                s.connect(up, 5000);
                c.setTcpNoDelay(true);
                s.setTcpNoDelay(true);
                synchronized (live) {
                    live.add(c);
                    live.add(s);
                }
                pump(c, s);
                pump(s, c);
            } catch (IOException e) {
                if (closed) {
                    return;
                }
            }
        }
    }

    void pump(Socket from, Socket to) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[65536];
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                int n;
                while ((n = in.read(buf)) > 0) {
                    out.write(buf, 0, n);
                    out.flush();
                }
            } catch (IOException e) {
                // connection cut
            }
            closeQuietly(from);
            closeQuietly(to);
        }, "proxy-pump");
        t.setDaemon(true);
        t.start();
    }

    static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // ignore
        }
    }

    /* Drops every relayed connection and refuses new ones until restore(). */
    void cut() {
        blocked = true;
        synchronized (live) {
            for (Socket s : live) {
                closeQuietly(s);
            }
            live.clear();
        }
    }

    void restore() {
        blocked = false;
    }

    @Override
    public void close() {
        closed = true;
        try {
            ss.close();
        } catch (IOException e) {
            // ignore
        }
        cut();
    }
}
