#!/usr/bin/python3
"""
One Eclipse Paho MQTT client (Debian's python3-paho-mqtt 1.6, callback API v1), driven by the
interop tests in test/interop: an MQTT implementation independent of Aviary, MQTT.js and
libmosquitto.

    /usr/bin/python3 client.py '<json options>'

Options (all optional but host and port):
    host, port         the broker
    protocol           "3.1", "3.1.1" (default) or "5.0"
    id                 client identifier ("" lets the broker assign one)
    clean              3.1/3.1.1: Clean Session; 5.0: Clean Start (default true)
    sessionExpiry      5.0: Session Expiry Interval in seconds (default: not sent, i.e. 0)
    keepalive          seconds (default 60)
    will               {topic, payload, qos, retain}
    subscribe          [{filter, qos}]: one SUBSCRIBE per filter, each awaited (SUBACK)
    publish            [{topic, payload, qos, retain}]: each awaited (QoS 0 written, 1 PUBACK,
                       2 PUBCOMP), in order
    count              after subscribing and publishing, wait for this many messages
    until              ... or wait for a message on this topic (itself reported too)
    stay               then stay connected until a "disconnect" line on stdin (or SIGKILL)
    timeout            seconds any one wait may take before the client gives up (default 20)

It reports on stdout, one JSON object a line, flushed at once:
    {"event": "connack", "sessionPresent": bool, "reasonCode": int}
    {"event": "suback", "filter": str, "codes": [int]}
    {"event": "published", "topic": str}
    {"event": "ready"}                      subscriptions and publications done
    {"event": "message", "topic", "payload", "qos", "retain", "dup"}
    {"event": "done"}                       after a normal DISCONNECT
and exits 0; on a refused connection, a lost connection, a timeout or an exception it prints
{"event": "error", "message": str} and exits 2. With "stay", stdin is read for the "disconnect"
line, and its end of file (the test process went away) ends the client at once, without
DISCONNECT; every other wait is bounded by "timeout".
"""

import json
import os
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

PROTOCOLS = {"3.1": mqtt.MQTTv31, "3.1.1": mqtt.MQTTv311, "5.0": mqtt.MQTTv5}
EXIT_ERROR = 2


def emit(event, **fields):
    fields["event"] = event
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def fail(message):
    emit("error", message=message)
    os._exit(EXIT_ERROR)


def on_uncaught(kind, value, tb):
    sys.__excepthook__(kind, value, tb)
    fail("%s: %s" % (kind.__name__, value))


sys.excepthook = on_uncaught


def code_of(rc):
    """A reason code as an int: 5.0 callbacks pass ReasonCodes objects, 3.1.1 ones ints."""
    return rc.value if hasattr(rc, "value") else int(rc)


opts = json.loads(sys.argv[1])
protocol = PROTOCOLS[opts.get("protocol", "3.1.1")]
v5 = protocol == mqtt.MQTTv5
clean = opts.get("clean", True)
timeout = float(opts.get("timeout", 20))

state = {"connack": None, "suback": None, "published": set(), "disconnected": False}
messages = []
stop_requested = threading.Event()


def watch_stdin():
    """A "disconnect" line asks for a normal DISCONNECT; end of file means the test is gone."""
    for line in sys.stdin:
        if line.strip() == "disconnect":
            stop_requested.set()
    os._exit(0)


if v5:
    client = mqtt.Client(client_id=opts.get("id", ""), protocol=protocol)
else:
    client = mqtt.Client(client_id=opts.get("id", ""), clean_session=clean, protocol=protocol)


def on_connect(_client, _userdata, flags, rc, _properties=None):
    state["connack"] = (bool(flags.get("session present", 0)), code_of(rc))


def on_subscribe(_client, _userdata, mid, granted, _properties=None):
    state["suback"] = (mid, [code_of(g) for g in granted])


def on_publish(_client, _userdata, mid):
    state["published"].add(mid)


def on_message(_client, _userdata, msg):
    messages.append(msg)
    emit(
        "message",
        topic=msg.topic,
        payload=msg.payload.decode("utf-8", errors="replace"),
        qos=msg.qos,
        retain=bool(msg.retain),
        dup=bool(msg.dup),
    )


def on_disconnect(_client, _userdata, _rc, _properties=None):
    state["disconnected"] = True


client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_publish = on_publish
client.on_message = on_message
client.on_disconnect = on_disconnect


def pump(done, what):
    """Runs the network loop until done() holds; fails on a lost connection or the timeout."""
    deadline = time.monotonic() + timeout
    while not done():
        if state["disconnected"]:
            fail("connection lost while waiting for " + what)
        if time.monotonic() > deadline:
            fail("timed out after %gs waiting for %s" % (timeout, what))
        rc = client.loop(timeout=0.1)
        if rc != mqtt.MQTT_ERR_SUCCESS and not done():
            fail("network error %s (%s) while waiting for %s" % (rc, mqtt.error_string(rc), what))


will = opts.get("will")
if will:
    client.will_set(
        will["topic"], will.get("payload", ""), qos=will.get("qos", 0), retain=will.get("retain", False)
    )

connect_args = {"keepalive": int(opts.get("keepalive", 60))}
if v5:
    connect_args["clean_start"] = clean
    if "sessionExpiry" in opts:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = int(opts["sessionExpiry"])
        connect_args["properties"] = props
try:
    client.connect(opts["host"], int(opts["port"]), **connect_args)
except OSError as e:
    fail("connect failed: %s" % e)
pump(lambda: state["connack"] is not None, "CONNACK")
session_present, code = state["connack"]
emit("connack", sessionPresent=session_present, reasonCode=code)
if code != 0:
    fail("connection refused with %d" % code)

if opts.get("stay"):
    threading.Thread(target=watch_stdin, daemon=True).start()

for sub in opts.get("subscribe", []):
    state["suback"] = None
    qos = int(sub.get("qos", 0))
    if v5:
        rc, mid = client.subscribe(sub["filter"], options=SubscribeOptions(qos=qos))
    else:
        rc, mid = client.subscribe(sub["filter"], qos)
    if rc != mqtt.MQTT_ERR_SUCCESS:
        fail("subscribe(%s) returned %d" % (sub["filter"], rc))
    pump(lambda: state["suback"] is not None and state["suback"][0] == mid, "SUBACK for " + sub["filter"])
    emit("suback", filter=sub["filter"], codes=state["suback"][1])

for pub in opts.get("publish", []):
    info = client.publish(
        pub["topic"], pub.get("payload", ""), qos=int(pub.get("qos", 0)), retain=bool(pub.get("retain", False))
    )
    if info.rc != mqtt.MQTT_ERR_SUCCESS:
        fail("publish(%s) returned %d" % (pub["topic"], info.rc))
    pump(lambda: info.mid in state["published"], "the end of the QoS flow of a message to " + pub["topic"])
    emit("published", topic=pub["topic"])

emit("ready")

count = opts.get("count")
if count is not None:
    pump(lambda: len(messages) >= int(count), "%d messages" % int(count))
until = opts.get("until")
if until is not None:
    pump(lambda: any(m.topic == until for m in messages), "a message on " + until)

if opts.get("stay"):
    while not stop_requested.is_set():
        if state["disconnected"]:
            fail("connection lost while staying connected")
        rc = client.loop(timeout=0.1)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            fail("network error %s (%s) while staying connected" % (rc, mqtt.error_string(rc)))

client.disconnect()
deadline = time.monotonic() + timeout
while not state["disconnected"] and time.monotonic() < deadline:
    client.loop(timeout=0.1)
emit("done")
sys.stdout.flush()
os._exit(0)
