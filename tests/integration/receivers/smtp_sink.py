#!/usr/bin/env python3
"""A minimal SMTP sink for notification tests (no TLS): accepts AUTH PLAIN
and LOGIN, records each message as one JSON line in LOG with the envelope,
the login and the data.  With --starttls it advertises STARTTLS but cannot
do it, which a client requiring TLS must refuse to go past.
usage: smtp_sink.py PORT LOG [--starttls]"""
import base64
import json
import socketserver
import sys

PORT, LOG = int(sys.argv[1]), sys.argv[2]
STARTTLS = "--starttls" in sys.argv


class Handler(socketserver.StreamRequestHandler):
    def say(self, line):
        self.wfile.write((line + "\r\n").encode())

    def handle(self):
        try:
            self.session()
        except (ConnectionError, ValueError):
            pass  # a port probe, or a client giving up (no STARTTLS)

    def session(self):
        msg = {"from": None, "to": [], "auth": None, "data": ""}
        self.say("220 sink ESMTP")
        while True:
            line = self.rfile.readline().decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                return
            cmd = line.split(" ", 1)[0].upper()
            if cmd in ("EHLO", "HELO"):
                self.say("250-sink")
                if STARTTLS:
                    self.say("250-STARTTLS")
                self.say("250 AUTH PLAIN LOGIN")
            elif cmd == "STARTTLS":
                self.say("454 TLS not available")
            elif cmd == "AUTH":
                parts = line.split()
                if parts[1].upper() == "PLAIN":
                    if len(parts) > 2:
                        raw = parts[2]
                    else:
                        self.say("334 ")
                        raw = self.rfile.readline().decode().strip()
                    _, user, pw = base64.b64decode(raw).decode().split("\0")
                else:
                    self.say("334 VXNlcm5hbWU6")
                    user = base64.b64decode(self.rfile.readline().strip()).decode()
                    self.say("334 UGFzc3dvcmQ6")
                    pw = base64.b64decode(self.rfile.readline().strip()).decode()
                msg["auth"] = [user, pw]
                self.say("235 ok")
            elif cmd == "MAIL":
                msg["from"] = line
                self.say("250 ok")
            elif cmd == "RCPT":
                msg["to"].append(line)
                self.say("250 ok")
            elif cmd == "DATA":
                self.say("354 go")
                data = []
                while True:
                    l = self.rfile.readline().decode("utf-8", "replace")
                    if l in (".\r\n", ".\n", ""):
                        break
                    data.append(l)
                msg["data"] = "".join(data)
                with open(LOG, "a") as f:
                    f.write(json.dumps(msg) + "\n")
                self.say("250 queued")
            elif cmd == "QUIT":
                self.say("221 bye")
                return
            else:
                self.say("250 ok")


socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("127.0.0.1", PORT), Handler).serve_forever()
