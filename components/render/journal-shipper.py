#!/usr/bin/python3
"""Ships the journal entries of the platform's units to a CloudWatch Logs group.

Each unit's entries go to the stream <node>/<unit>, one JSON object per entry. The journal
cursor is saved only once CloudWatch Logs has taken every entry read before it, so a restart
resumes where the last delivery ended and skips nothing the journal still holds (delivery is
at least once: a crash between a delivery and its cursor repeats that delivery).

  platform-journal-shipper [--config FILE] [--check]
"""
import argparse
import json
import os
import re
import signal
import sys
import time

DEFAULT_CONFIG = "/etc/platform/journal-shipper.json"
# PutLogEvents' limits: a batch holds at most 10,000 events and 1,048,576 bytes (each message's
# UTF-8 size plus 26), spans at most 24 hours, and is in chronological order; an event is at most 256 KiB.
MAX_BATCH_EVENTS = 10000
MAX_BATCH_BYTES = 1048576
EVENT_OVERHEAD_BYTES = 26
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000
MAX_MESSAGE_BYTES = 256 * 1024 - EVENT_OVERHEAD_BYTES
# Entries read before one delivery: bounds memory and what a crash repeats.
MAX_CHUNK_ENTRIES = 20000
MAX_BACKOFF_SECONDS = 60
FINAL_FLUSH_ATTEMPTS = 2

CONFIG_KEYS = {
    # key: (type, required)
    "logGroup": (str, True),
    "region": (str, True),
    "node": (str, True),
    "units": (list, True),
    "stateDir": (str, True),
    "textfile": (str, True),
    "flushSeconds": (int, True),
    "endpointUrl": (str, False),
    "instanceIdFile": (str, False),
    # A directory of journal files instead of the system journal (tests).
    "journalDirectory": (str, False),
}
UNIT_NAME = re.compile(r"^[A-Za-z0-9@._-]+\.service$")
STREAM_PART = re.compile(r"^[A-Za-z0-9._-]+$")


class ConfigError(Exception):
    pass


def load_config(path):
    """The shipper's configuration, or one ConfigError naming the file and every bad key."""
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path}: cannot be read: {err}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: must hold a JSON object")
    problems = [f"{key}: unknown key" for key in sorted(set(config) - set(CONFIG_KEYS))]
    for key, (kind, required) in CONFIG_KEYS.items():
        if key not in config:
            if required:
                problems.append(f"{key}: missing")
        elif not isinstance(config[key], kind) or isinstance(config[key], bool):
            problems.append(f"{key}: must be a {kind.__name__}")
    if isinstance(config.get("units"), list):
        units = config["units"]
        if not units:
            problems.append("units: must name at least one unit")
        bad = [u for u in units if not isinstance(u, str) or not UNIT_NAME.match(u)]
        if bad:
            problems.append(f"units: not a service unit name: {', '.join(map(str, bad))}")
        if len(set(map(str, units))) != len(units):
            problems.append("units: a unit is listed twice")
    if isinstance(config.get("node"), str) and not STREAM_PART.match(config["node"]):
        problems.append("node: may hold only letters, digits, '.', '_' and '-'")
    if isinstance(config.get("flushSeconds"), int) and not 1 <= config["flushSeconds"] <= 60:
        problems.append("flushSeconds: must be between 1 and 60")
    for key in ("logGroup", "region", "stateDir", "textfile"):
        if isinstance(config.get(key), str) and not config[key]:
            problems.append(f"{key}: must not be empty")
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return config


def open_journal(config):
    """A journal reader of the configured units' entries, and of systemd's messages about them."""
    from systemd import journal

    converters = {"__REALTIME_TIMESTAMP": int}
    if "journalDirectory" in config:
        reader = journal.Reader(path=config["journalDirectory"], converters=converters)
    else:
        reader = journal.Reader(converters=converters)
    for unit in config["units"]:
        reader.add_match(_SYSTEMD_UNIT=unit)
    reader.add_disjunction()
    for unit in config["units"]:
        reader.add_match(UNIT=unit)
    return reader


def logs_client(config):
    import botocore.session
    from botocore.config import Config

    session = botocore.session.get_session()
    return session.create_client(
        "logs",
        region_name=config["region"],
        endpoint_url=config.get("endpointUrl"),
        config=Config(connect_timeout=5, read_timeout=20, retries={"mode": "standard", "max_attempts": 3}),
    )


def text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def truncated(message, limit):
    """message cut to at most limit UTF-8 bytes, marked as cut."""
    return message.encode("utf-8")[:limit].decode("utf-8", errors="ignore") + " [truncated]"


def event_of(entry, units, instance_id):
    """(stream unit, event) of a journal entry: its own unit's, or the unit systemd's message is about."""
    unit = entry.get("_SYSTEMD_UNIT")
    if unit not in units:
        unit = entry.get("UNIT")
    record = {
        "message": text(entry.get("MESSAGE", "")),
        "priority": int(entry["PRIORITY"]) if "PRIORITY" in entry else None,
        "identifier": text(entry.get("SYSLOG_IDENTIFIER", "")),
        "pid": int(entry["_PID"]) if "_PID" in entry else None,
        "boot": text(entry.get("_BOOT_ID", "")).replace("-", ""),
        "instance": instance_id,
    }
    message = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    limit = MAX_MESSAGE_BYTES - 1024
    while len(message.encode("utf-8")) > MAX_MESSAGE_BYTES:
        # JSON escapes can make the text longer than its bytes: halve until it fits.
        record["message"] = truncated(record["message"], limit)
        message = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        limit //= 2
    return unit, {"timestamp": entry["__REALTIME_TIMESTAMP"] // 1000, "message": message}


def batches(events):
    """Splits one stream's events into PutLogEvents batches, each in chronological order."""
    batch, size = [], 0
    for event in sorted(events, key=lambda e: e["timestamp"]):
        cost = len(event["message"].encode("utf-8")) + EVENT_OVERHEAD_BYTES
        if batch and (len(batch) >= MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES
                      or event["timestamp"] - batch[0]["timestamp"] > MAX_BATCH_SPAN_MS):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += cost
    if batch:
        yield batch


def rejected_count(info, size):
    """How many events of a batch of size PutLogEvents refused (too old, expired or too new)."""
    if not info:
        return 0
    refused = set()
    for key in ("tooOldLogEventEndIndex", "expiredLogEventEndIndex"):
        if key in info:
            refused.update(range(0, min(info[key], size - 1) + 1))
    if "tooNewLogEventStartIndex" in info:
        refused.update(range(info["tooNewLogEventStartIndex"], size))
    return len(refused)


class Shipper:
    def __init__(self, config):
        self.config = config
        self.units = set(config["units"])
        self.cursor_file = os.path.join(config["stateDir"], "cursor")
        self.instance_id = self.read_instance_id()
        self.client = logs_client(config)
        self.reader = open_journal(config)
        self.streams = set()
        self.stopping = False
        self.shipped = 0
        self.rejected = 0
        self.failures = 0
        self.last_success = None

    def read_instance_id(self):
        try:
            with open(self.config.get("instanceIdFile", "/var/lib/cloud/data/instance-id"), encoding="utf-8") as handle:
                return handle.read().strip() or "unknown"
        except OSError:
            return "unknown"

    def position(self):
        """Just after the saved cursor; at the journal's head when there is none."""
        cursor = None
        try:
            with open(self.cursor_file, encoding="utf-8") as handle:
                cursor = handle.read().strip() or None
        except FileNotFoundError:
            pass
        if cursor is None:
            self.reader.seek_head()
            return
        self.reader.seek_cursor(cursor)
        # The entry at the cursor was delivered; if the journal no longer holds it, the next one was not.
        entry = self.reader.get_next()
        if entry and not self.reader.test_cursor(cursor):
            self.reader.get_previous()

    def save_cursor(self, cursor):
        os.makedirs(self.config["stateDir"], exist_ok=True)
        temporary = self.cursor_file + ".tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(cursor)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.cursor_file)

    def read_chunk(self):
        """Up to MAX_CHUNK_ENTRIES new entries, grouped by stream, and the cursor of the last one."""
        by_stream, cursor, count = {}, None, 0
        self.reader.wait(0)  # takes in entries appended and files added since the last read
        while count < MAX_CHUNK_ENTRIES:
            entry = self.reader.get_next()
            if not entry:
                break
            unit, event = event_of(entry, self.units, self.instance_id)
            by_stream.setdefault(f"{self.config['node']}/{unit}", []).append(event)
            cursor = entry["__CURSOR"]
            count += 1
        return by_stream, cursor

    def put(self, stream, batch):
        group = self.config["logGroup"]
        if stream not in self.streams:
            try:
                self.client.create_log_stream(logGroupName=group, logStreamName=stream)
            except self.client.exceptions.ResourceAlreadyExistsException:
                pass
            self.streams.add(stream)
        response = self.client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
        refused = rejected_count(response.get("rejectedLogEventsInfo"), len(batch))
        if refused:
            print(f"CloudWatch Logs refused {refused} of {len(batch)} events for {stream} "
                  f"as too old or too new: {response['rejectedLogEventsInfo']}", file=sys.stderr, flush=True)
        self.rejected += refused
        self.shipped += len(batch) - refused

    def deliver(self, by_stream, attempts=None):
        """Delivers every batch, retrying with backoff; False if stopped (or out of attempts) first."""
        pending = [(stream, batch) for stream, events in sorted(by_stream.items()) for batch in batches(events)]
        backoff, attempt = 1, 0
        while pending:
            stream, batch = pending[0]
            try:
                self.put(stream, batch)
                pending.pop(0)
                backoff = 1
                continue
            except Exception as err:  # botocore's client and connection errors alike: the journal keeps the entries
                self.failures += 1
                self.streams.discard(stream)
                attempt += 1
                print(f"delivery to {self.config['logGroup']}/{stream} failed (attempt {attempt}): {err}", file=sys.stderr, flush=True)
            self.write_metrics()
            if attempts is not None and attempt >= attempts:
                return False
            if not self.pause(backoff):
                return False
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        return True

    def pause(self, seconds):
        """Sleeps unless asked to stop; False if asked."""
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.25, deadline - time.monotonic()))
        return not self.stopping

    def ship_available(self, attempts=None):
        """Delivers everything the journal holds now, chunk by chunk; True once caught up."""
        while True:
            by_stream, cursor = self.read_chunk()
            if cursor is None:
                self.last_success = time.time()
                return True
            if not self.deliver(by_stream, attempts):
                return False
            self.save_cursor(cursor)

    def write_metrics(self):
        lines = []
        if self.last_success is not None:
            lines += [
                "# HELP platform_log_shipper_last_success_timestamp_seconds When the shipper last had delivered every journal entry it had read.",
                "# TYPE platform_log_shipper_last_success_timestamp_seconds gauge",
                f"platform_log_shipper_last_success_timestamp_seconds {self.last_success:.3f}",
            ]
        for name, value, description in (
            ("events_shipped_total", self.shipped, "Journal entries CloudWatch Logs accepted since the shipper started."),
            ("events_rejected_total", self.rejected, "Journal entries CloudWatch Logs refused as too old or too new."),
            ("delivery_failures_total", self.failures, "PutLogEvents or CreateLogStream calls that failed and were retried."),
        ):
            lines += [f"# HELP platform_log_shipper_{name} {description}", f"# TYPE platform_log_shipper_{name} counter",
                      f"platform_log_shipper_{name} {value}"]
        path = self.config["textfile"]
        temporary = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
        try:
            with open(temporary, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except OSError as err:
            print(f"cannot write {path}: {err}", file=sys.stderr, flush=True)

    def run(self):
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.stop)
        self.position()
        print(f"shipping {', '.join(self.config['units'])} to {self.config['logGroup']} as {self.config['node']}/<unit>", flush=True)
        while not self.stopping:
            self.ship_available()
            self.write_metrics()
            self.pause(self.config["flushSeconds"])
        # Stopping (an instance shutting down): what the last interval logged, with a few tries,
        # from the last delivered entry: a delivery the stop interrupted is tried again, not skipped.
        self.stopping = False
        self.position()
        self.ship_available(attempts=FINAL_FLUSH_ATTEMPTS)
        self.write_metrics()
        return 0

    def stop(self, *_):
        self.stopping = True


def check(config):
    """What --check verifies: the configuration, the journal opens, a client for the region can be made."""
    open_journal(config).close()
    logs_client(config)
    print(f"journal shipper configuration is valid: {len(config['units'])} units to {config['logGroup']} in {config['region']}")


def main(argv):
    parser = argparse.ArgumentParser(description="Ships the platform units' journal entries to CloudWatch Logs.")
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument("--check", action="store_true", help="validate the configuration and exit")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as err:
        print(f"platform-journal-shipper: {err}", file=sys.stderr)
        return 2
    if args.check:
        check(config)
        return 0
    return Shipper(config).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
