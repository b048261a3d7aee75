"""The K3s installer stand-in's web server, run inside each guest on 127.0.0.1:<port>.

Paths mirror the real ones so the installer script stays close to get.k3s.io's:
  /install.sh
  /k3s-io/k3s/releases/download/<version>/{k3s,sha256sum-amd64.txt}
  /v1-release/channels/<channel>  (302 to /k3s-io/k3s/releases/tag/<version>)
Unknown versions are 404, so the installer fails with its real 'Download failed'.
"""
import hashlib
import http.server
import os
import re
import threading


def go_version(version):
    minor = int(re.match(r"v1\.(\d+)\.", version).group(1))
    return {31: "go1.23.12", 32: "go1.23.12", 33: "go1.24.9", 34: "go1.24.9"}.get(minor, "go1.24.9")


def render_k3s(template, version):
    commit = hashlib.sha1(version.encode()).hexdigest()[:8]
    return (template.replace("@@VERSION@@", version).replace("@@COMMIT@@", commit)
            .replace("@@GOVERSION@@", go_version(version))).encode()


def make_handler(shared, releases, channels):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

        def _send(self, code, body=b"", headers=None):
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/install.sh":
                with open(os.path.join(shared, "installer", "install.sh"), "rb") as f:
                    return self._send(200, f.read(), {"Content-Type": "text/x-shellscript"})
            m = re.fullmatch(r"/v1-release/channels/([\w.-]+)", path)
            if m and m.group(1) in channels:
                loc = f"/k3s-io/k3s/releases/tag/{channels[m.group(1)]}"
                return self._send(302, b"", {"Location": loc})
            m = re.fullmatch(r"/k3s-io/k3s/releases/tag/([^/]+)", path)
            if m and m.group(1) in releases:
                return self._send(200, f"K3s {m.group(1)}\n".encode())
            m = re.fullmatch(r"/k3s-io/k3s/releases/download/([^/]+)/([^/]+)", path)
            if m and m.group(1).replace("%2B", "+") in releases:
                version = m.group(1).replace("%2B", "+")
                with open(os.path.join(shared, "installer", "k3s.py")) as f:
                    binary = render_k3s(f.read(), version)
                if m.group(2) == "k3s":
                    return self._send(200, binary)
                if m.group(2) == "sha256sum-amd64.txt":
                    line = f"{hashlib.sha256(binary).hexdigest()}  k3s\n"
                    return self._send(200, line.encode())
            self._send(404, b"Not Found\n")

    return Handler


def serve(shared, port, releases, channels):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                          make_handler(shared, releases, channels))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv
