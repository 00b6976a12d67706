#!/usr/bin/env python3
"""Local stand-ins for the S3 credential tests (tests/integration/s3_credentials_test.sh).

  aws_standin.py metadata PORTFILE STATEDIR [CERT KEY]
      One HTTP server on 127.0.0.1 answering as EC2 instance metadata
      (IMDSv2: PUT /latest/api/token, then the role and its credentials),
      the container credentials endpoint (GET /ecs/creds, Authorization
      checked) and STS (POST /sts/, AssumeRoleWithWebIdentity).  Every
      source hands out s3rver's key pair (the only one it accepts) with a
      session token "sessiontoken-<source>-<n>" and an expiry of STATEDIR/lifetime
      seconds (default 3600) from now.  STATEDIR/counts.json counts the
      requests per endpoint (rewritten after each one).
      STATEDIR/container_token and STATEDIR/web_token hold the tokens the
      container endpoint and STS expect.  With CERT and KEY it speaks TLS.
      STS also answers AssumeRole when the request's SigV4 signature checks
      out with the secret of its access key: S3RVER's, or the one in
      STATEDIR/role_source_secret for the key ROLESOURCE (a profile's
      source_profile); anything else is 403 SignatureDoesNotMatch.

  aws_standin.py proxy PORTFILE TARGETPORT LOGFILE
      A recording proxy in front of s3rver: each request is forwarded as is
      (s3rver ignores signatures) and one line is appended to LOGFILE:
      "METHOD PATH?QUERY name=value ..." with the x-amz-server-side-encryption*,
      x-amz-storage-class and x-amz-security-token headers it carried, and
      the region its signature was made for.  A request whose session token
      is a line of LOGFILE.expired is answered 400 ExpiredToken instead.
      While LOGFILE.delay exists, each upload part (PUT ...partNumber=) waits
      that many seconds before it is forwarded.
      While LOGFILE.hold exists, a PUT of a manifest.json is forwarded,
      then "HELD PUT PATH" is appended to LOGFILE and its answer held that
      many seconds (the writer is in the middle of its commit meanwhile).

The port chosen is written to PORTFILE once listening.
"""
import hashlib
import hmac
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = "S3RVER"
SECRET = "S3RVER"
LOCK = threading.Lock()


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Metadata(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None
    counts = {}
    imds_tokens = set()

    def log_message(self, *a):
        pass

    def count(self, what):
        with LOCK:
            self.counts[what] = self.counts.get(what, 0) + 1
            n = self.counts[what]
            tmp = os.path.join(self.state, "counts.json.tmp")
            with open(tmp, "w") as f:
                json.dump(self.counts, f)
            os.replace(tmp, os.path.join(self.state, "counts.json"))
        return n

    def setting(self, name, default=None):
        try:
            with open(os.path.join(self.state, name)) as f:
                return f.read().strip()
        except OSError:
            return default

    def answer(self, status, body, ctype="text/plain"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def creds_json(self, source):
        n = self.count(source)
        life = int(self.setting("lifetime", "3600"))
        return json.dumps({"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": KEY,
                           "SecretAccessKey": SECRET, "Token": "sessiontoken-%s-%d" % (source, n),
                           "Expiration": iso(time.time() + life)})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_PUT(self):
        self.body()
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            n = self.count("imds_token")
            tok = "imdsv2-session-%d" % n
            with LOCK:
                self.imds_tokens.add(tok)
            return self.answer(200, tok)
        self.answer(400, "bad token request")

    def do_GET(self):
        p = self.path
        if p.startswith("/latest/"):
            if self.headers.get("X-aws-ec2-metadata-token") not in self.imds_tokens:
                self.count("imds_unauthorized")
                return self.answer(401, "")
            if p == "/latest/meta-data/iam/security-credentials/":
                return self.answer(200, "backupd-role")
            if p == "/latest/meta-data/iam/security-credentials/backupd-role":
                return self.answer(200, self.creds_json("imds"), "application/json")
            return self.answer(404, "")
        if p == "/ecs/creds":
            if self.headers.get("Authorization") != self.setting("container_token"):
                self.count("container_unauthorized")
                return self.answer(403, '{"message":"bad token"}', "application/json")
            return self.answer(200, self.creds_json("container"), "application/json")
        self.answer(404, "")

    def signature_ok(self, body):
        """The request's SigV4 signature, recomputed with its key's secret."""
        auth = self.headers.get("Authorization") or ""
        try:
            fields = dict(kv.strip().split("=", 1) for kv in auth.split(" ", 1)[1].split(","))
            akid, date, region, service, _ = fields["Credential"].split("/")
        except (IndexError, KeyError, ValueError):
            return False
        secret = {KEY: SECRET, "ROLESOURCE": self.setting("role_source_secret")}.get(akid)
        if not secret or service != "sts":
            return False
        signed = fields["SignedHeaders"].split(";")
        canon = "".join("%s:%s\n" % (h, " ".join((self.headers.get(h) or "").split())) for h in signed)
        path, _, query = self.path.partition("?")
        creq = "\n".join([self.command, urllib.parse.quote(path, safe="/~"), query, canon,
                          fields["SignedHeaders"], hashlib.sha256(body).hexdigest()])
        scope = "/".join([date, region, service, "aws4_request"])
        sts = "\n".join(["AWS4-HMAC-SHA256", self.headers.get("x-amz-date") or "", scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
        k = ("AWS4" + secret).encode()
        for part in (date, region, service, "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        return hmac.compare_digest(hmac.new(k, sts.encode(), hashlib.sha256).hexdigest(),
                                   fields.get("Signature", ""))

    def sts_error(self, status, code, message, counter):
        self.count(counter)
        return self.answer(status, "<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code>"
                                   "<Message>%s</Message></Error></ErrorResponse>" % (code, message), "text/xml")

    def sts_credentials(self, action, counter, extra_before="", extra_after=""):
        """<ACTIONResponse><ACTIONResult>[before]<Credentials/>[after]: s3rver's pair, a new token."""
        n = self.count(counter)
        life = int(self.setting("lifetime", "3600"))
        xml = ("<%sResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><%sResult>%s<Credentials>"
               "<AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey>"
               "<SessionToken>sessiontoken-%s-%d</SessionToken><Expiration>%s</Expiration>"
               "</Credentials>%s</%sResult></%sResponse>"
               % (action, action, extra_before, KEY, SECRET, counter.replace("sts_", ""), n,
                  iso(time.time() + life), extra_after, action, action))
        return self.answer(200, xml, "text/xml")

    def do_POST(self):
        raw = self.body()
        form = urllib.parse.parse_qs(raw.decode())
        one = lambda k: (form.get(k) or [""])[0]
        if self.path.startswith("/sts") and one("Action") == "AssumeRole":
            if not self.signature_ok(raw) or not one("RoleArn") or not one("RoleSessionName"):
                return self.sts_error(403, "SignatureDoesNotMatch",
                                      "The request signature we calculated does not match", "sts_assume_denied")
            return self.sts_credentials("AssumeRole", "sts_assume",
                                        "<AssumedRoleUser><Arn>%s/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId>"
                                        "</AssumedRoleUser>" % one("RoleArn"))
        if self.path.startswith("/sts") and one("Action") == "AssumeRoleWithWebIdentity":
            if one("WebIdentityToken") != self.setting("web_token") or not one("RoleArn"):
                return self.sts_error(400, "AccessDenied",
                                      "Not authorized to perform sts:AssumeRoleWithWebIdentity", "sts_denied")
            return self.sts_credentials("AssumeRoleWithWebIdentity", "sts", extra_after=
                                        "<SubjectFromWebIdentityToken>x</SubjectFromWebIdentityToken>")
        self.answer(404, "")


RECORDED = ("x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id",
            "x-amz-storage-class", "x-amz-security-token")


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    target = None
    logfile = None

    def log_message(self, *a):
        pass

    def forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        rec = " ".join("%s=%s" % (h, self.headers[h]) for h in RECORDED if self.headers.get(h))
        # the signing region: Credential=AKID/DATE/REGION/s3/aws4_request
        auth = self.headers.get("Authorization") or ""
        if "Credential=" in auth:
            parts = auth.split("Credential=")[1].split(",")[0].split("/")
            if len(parts) >= 3:
                rec += " region=" + parts[2]
        try:
            with open(self.logfile + ".expired") as f:
                expired = set(f.read().split())
        except OSError:
            expired = set()
        refuse = self.headers.get("x-amz-security-token") in expired
        # LOGFILE.delay: seconds each upload part waits (an upload that
        # outlasts short-lived credentials, however fast the machine)
        if self.command == "PUT" and "partNumber=" in self.path:
            try:
                with open(self.logfile + ".delay") as f:
                    time.sleep(float(f.read().strip() or 0))
            except OSError:
                pass
        with LOCK:
            with open(self.logfile, "a") as f:
                f.write("%s %s %s%s\n" % (self.command, self.path, rec, " refused" if refuse else ""))
        if refuse:
            data = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>ExpiredToken</Code>"
                    b"<Message>The provided token has expired.</Message></Error>")
            self.send_response(400)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            return
        conn = http.client.HTTPConnection("127.0.0.1", self.target, timeout=120)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "expect")}
        conn.request(self.command, self.path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        if self.command == "PUT" and self.path.split("?")[0].endswith("/manifest.json"):
            try:
                with open(self.logfile + ".hold") as f:
                    hold = float(f.read().strip() or 0)
                with LOCK:
                    with open(self.logfile, "a") as f:
                        f.write("HELD PUT %s\n" % self.path)
                time.sleep(hold)
            except OSError:
                pass
        self.send_response(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive"):
                self.send_header(k, v)
        if self.command == "HEAD":
            self.send_header("Content-Length", r.getheader("Content-Length") or "0")
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward


def serve(handler, portfile, cert=None, key=None):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    if cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(portfile + ".tmp", portfile)
    srv.serve_forever()


def main():
    if sys.argv[1] == "metadata":
        Metadata.state = sys.argv[3]
        serve(Metadata, sys.argv[2], *sys.argv[4:6])
    elif sys.argv[1] == "proxy":
        Proxy.target = int(sys.argv[3])
        Proxy.logfile = sys.argv[4]
        serve(Proxy, sys.argv[2])


if __name__ == "__main__":
    main()
