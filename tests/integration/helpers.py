"""Small helpers shared by the integration tests: polling with a deadline
(never bare sleeps), a raw HTTP/1.1 client for requests urllib cannot make
(oversized bodies the server refuses early, chunked bodies, a chosen loopback
source address), mail lookup by recipient and direct database/cache access."""

import concurrent.futures
import json
import re
import socket
import time

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def poll(fn, timeout, what, interval=0.1):
    """Calls fn until it returns a truthy value; returns it, or fails at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not true after {timeout}s (last: {last!r})")
        time.sleep(interval)


def raw_http(port, method, path, headers=None, body=b"", source=None, timeout=15,
             chunked=False):
    """One request on a fresh connection; returns (status, headers with lower-case names,
    body bytes). The server may answer and close before the whole body was sent (413):
    the send error is ignored and the answer read anyway."""
    hdrs = {"Host": f"127.0.0.1:{port}", "Connection": "close"}
    hdrs.update(headers or {})
    if chunked:
        hdrs["Transfer-Encoding"] = "chunked"
    elif body or method in ("POST", "PUT", "PATCH"):
        hdrs.setdefault("Content-Length", str(len(body)))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                 source_address=(source, 0) if source else None)
    try:
        try:
            s.sendall(head.encode() + b"\r\n")
            if chunked:
                step = 64 * 1024
                for i in range(0, len(body), step):
                    part = body[i:i + step]
                    s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
                s.sendall(b"0\r\n\r\n")
            elif body:
                s.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            if _complete(data, method):
                break
    finally:
        s.close()
    return _parse(data, method)


def _split(data):
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None, None
    return data[:end].decode("latin-1"), data[end + 4:]


def _complete(data, method):
    head, rest = _split(data)
    if head is None:
        return False
    lines = head.split("\r\n")
    hdrs = {k.strip().lower(): v.strip() for k, v in
            (line.split(":", 1) for line in lines[1:] if ":" in line)}
    status = int(lines[0].split()[1])
    if method == "HEAD" or status in (204, 304):
        return True
    if "content-length" in hdrs:
        return len(rest) >= int(hdrs["content-length"])
    return False  # chunked or close-delimited: read to EOF


def _parse(data, method):
    head, rest = _split(data)
    if head is None:
        raise AssertionError(f"no complete HTTP answer (got {data[:200]!r})")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    if hdrs.get("transfer-encoding", "").lower() == "chunked":
        body, buf = b"", rest
        while buf:
            size_line, _, buf = buf.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            body, buf = body + buf[:size], buf[size + 2:]
        rest = body
    elif "content-length" in hdrs:
        rest = rest[:int(hdrs["content-length"])]
    return status, hdrs, rest


def json_body(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def mails_to(backing, address):
    """Mails the sink stored whose envelope recipients include address."""
    out = []
    for m in backing.mails():
        for line in m.splitlines()[:2]:
            if line.startswith("X-Envelope-To:") and address.lower() in line.lower():
                out.append(m)
    return out


def drop_product_cache(backing, slice_, product_id=None):
    """Deletes the product service's cache keys (product:<id>, or every product* key)."""
    db = slice_["redis_db"]
    pattern = f"product*:{product_id}" if product_id else "product*"
    keys = backing.redis("--scan", "--pattern", pattern, db=db).split()
    if product_id:
        keys += [k for k in backing.redis("--scan", "--pattern", "products*", db=db).split()]
    for k in keys:
        backing.redis("DEL", k, db=db)


def sql(backing, slice_, query):
    """Runs SQL on the test's database; returns the rows as lists of strings."""
    out = backing.psql(query, db=slice_["name"]).stdout.strip()
    return [line.split("|") for line in out.splitlines()] if out else []


def parallel(fn, args, workers):
    """Runs fn(arg) for every arg on a bounded thread pool; returns the results in order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as ex:
        return list(ex.map(fn, args))
