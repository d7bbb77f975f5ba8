# SPDX-License-Identifier: ISC
"""
Small checkers written from the published specifications of the sharing
formats (no Debian package validates them): each returns a list of
problems, empty when the document conforms.

* STIX 2.1 (OASIS, "STIX Version 2.1", sections 2 and 3 (common types
  and properties), 4.7 (Identity), 4.8 (Indicator), 8 (Bundle), 9
  (Patterning)); the official JSON schemas' identifier and timestamp
  patterns.
* MISP core format (draft-dulaunoy-misp-core-format): Event, Orgc,
  Attribute, Tag; the feed layout of MISP (manifest.json keyed by event
  uuid, one EVENT-UUID.json holding {"Event": ...}).
* AbuseIPDB bulk report CSV (abuseipdb.com/bulk-report): strict
  headings, at most 10,000 lines, IP, Categories, ReportDate, Comment.
"""
import csv
import io
import ipaddress
import re
from datetime import datetime

UUID = (r"[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-"
        r"[0-9a-f]{12}")
STIX_ID = re.compile(r"^([a-z][a-z0-9-]+[a-z0-9])--(%s)$" % UUID)
STIX_TS = re.compile(r"^[0-9]{4}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])T"
                     r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)"
                     r"(\.[0-9]+)?Z$")
STIX_TS_MS = re.compile(STIX_TS.pattern.replace(r"(\.[0-9]+)?Z$",
                                                r"\.[0-9]{3,}Z$"))
INDICATOR_TYPES = {"anomalous-activity", "anonymization", "benign",
                   "compromised", "malicious-activity", "attribution",
                   "unknown"}
IDENTITY_CLASSES = {"individual", "group", "system", "organization",
                    "class", "unknown"}
# A comparison expression of one ipv4-addr or ipv6-addr value.
PATTERN = re.compile(r"^\[(ipv4-addr|ipv6-addr):value = '([^'\\]+)'\]$")


def _ts(v, millis=False):
    return isinstance(v, str) and bool((STIX_TS_MS if millis else
                                        STIX_TS).match(v))


def _when(v):
    return datetime.strptime(v[:19], "%Y-%m-%dT%H:%M:%S")


def check_stix_bundle(b):
    p = []
    if not isinstance(b, dict) or b.get("type") != "bundle":
        return ["not a bundle"]
    m = STIX_ID.match(b.get("id", ""))
    if not m or m.group(1) != "bundle":
        p.append("bundle id %r" % b.get("id"))
    if "spec_version" in b:
        p.append("a 2.1 bundle has no spec_version")
    objs = b.get("objects", [])
    if not isinstance(objs, list):
        return p + ["objects not a list"]
    ids = {}
    for o in objs:
        p += ["%s: %s" % (o.get("id"), x) for x in _check_sdo(o)]
        if o.get("id") in ids:
            p.append("duplicate id %s" % o.get("id"))
        ids[o.get("id")] = o
    for o in objs:
        ref = o.get("created_by_ref")
        if ref is not None and (ref not in ids or
                                ids[ref]["type"] != "identity"):
            p.append("%s: created_by_ref %s not an identity here"
                     % (o["id"], ref))
    return p


def _check_sdo(o):
    p = []
    for k in ("type", "spec_version", "id", "created", "modified"):
        if k not in o:
            p.append("missing %s" % k)
    if p:
        return p
    if o["spec_version"] != "2.1":
        p.append("spec_version %r" % o["spec_version"])
    m = STIX_ID.match(o["id"])
    if not m or m.group(1) != o["type"]:
        p.append("id does not match type")
    for k in ("created", "modified"):
        if not _ts(o[k], millis=True):
            p.append("%s %r not a timestamp with milliseconds" % (k, o[k]))
    if not p and _when(o["modified"]) < _when(o["created"]):
        p.append("modified before created")
    for k in o:
        if not re.match(r"^[a-z0-9_]{3,250}$", k) and k != "id":
            p.append("property name %r" % k)
    if "labels" in o and (not isinstance(o["labels"], list) or
                          not o["labels"] or
                          not all(isinstance(x, str) for x in o["labels"])):
        p.append("labels must be a non-empty list of strings")
    if o["type"] == "identity":
        if not isinstance(o.get("name"), str) or not o["name"]:
            p.append("identity without a name")
        if o.get("identity_class", "unknown") not in IDENTITY_CLASSES:
            p.append("identity_class %r" % o.get("identity_class"))
    elif o["type"] == "indicator":
        for k in ("pattern", "pattern_type", "valid_from"):
            if k not in o:
                p.append("indicator missing %s" % k)
        if p:
            return p
        if o["pattern_type"] != "stix":
            p.append("pattern_type %r" % o["pattern_type"])
        if not _ts(o["valid_from"]):
            p.append("valid_from %r" % o["valid_from"])
        if "valid_until" in o and _when(o["valid_until"]) <= \
                _when(o["valid_from"]):
            p.append("valid_until not after valid_from")
        for t in o.get("indicator_types", []):
            if t not in INDICATOR_TYPES:
                p.append("indicator_types %r" % t)
        m = PATTERN.match(o["pattern"])
        if not m:
            p.append("pattern %r" % o["pattern"])
        else:
            try:
                net = ipaddress.ip_network(m.group(2))
            except ValueError:
                p.append("pattern value %r" % m.group(2))
            else:
                if (net.version == 4) != (m.group(1) == "ipv4-addr"):
                    p.append("pattern object type and address differ")
    return p


def stix_pattern_value(o):
    return PATTERN.match(o["pattern"]).group(2)


# --------------------------------------------------------------- MISP --

MISP_NETWORK_TYPES = {"ip-src", "ip-dst", "ip-src|port", "ip-dst|port",
                      "port", "hostname", "domain", "domain|ip", "url",
                      "AS", "comment", "text", "other"}


def _epoch(v):
    return isinstance(v, str) and v.isdigit()


def _uuid(v):
    return isinstance(v, str) and bool(re.match("^%s$" % UUID, v))


def _check_tags(tags, where):
    p = []
    if not isinstance(tags, list):
        return ["%s: Tag not a list" % where]
    for t in tags:
        if not isinstance(t, dict) or not isinstance(t.get("name"), str) \
                or not t["name"]:
            p.append("%s: Tag without a name" % where)
        if "exportable" in t and not isinstance(t["exportable"], bool):
            p.append("%s: Tag exportable not a boolean" % where)
    return p


def _check_orgc(o, where):
    if not isinstance(o, dict):
        return ["%s: Orgc missing" % where]
    p = []
    if not _uuid(o.get("uuid")):
        p.append("%s: Orgc uuid" % where)
    if not isinstance(o.get("name"), str) or not o["name"]:
        p.append("%s: Orgc name" % where)
    return p


def check_misp_event(doc):
    """An event file: {"Event": {...}}."""
    if not isinstance(doc, dict) or set(doc) != {"Event"}:
        return ["not {\"Event\": ...}"]
    e = doc["Event"]
    p = []
    for k in ("uuid", "info", "date", "timestamp", "publish_timestamp",
              "published", "threat_level_id", "analysis", "distribution",
              "Orgc", "Attribute"):
        if k not in e:
            p.append("Event missing %s" % k)
    if p:
        return p
    if not _uuid(e["uuid"]):
        p.append("Event uuid")
    if not isinstance(e["info"], str) or not e["info"] or \
            len(e["info"]) > 256 or "\n" in e["info"]:
        p.append("Event info")
    if not re.match(r"^\d{4}-\d{2}-\d{2}$", e["date"]):
        p.append("Event date %r" % e["date"])
    for k in ("timestamp", "publish_timestamp"):
        if not _epoch(e[k]):
            p.append("Event %s %r" % (k, e[k]))
    if not isinstance(e["published"], bool):
        p.append("Event published not a boolean")
    if e["threat_level_id"] not in ("1", "2", "3", "4"):
        p.append("threat_level_id %r" % e["threat_level_id"])
    if e["analysis"] not in ("0", "1", "2"):
        p.append("analysis %r" % e["analysis"])
    if e["distribution"] not in ("0", "1", "2", "3", "4"):
        p.append("Event distribution %r" % e["distribution"])
    if "attribute_count" in e and e["attribute_count"] != \
            str(len(e["Attribute"])):
        p.append("attribute_count")
    p += _check_orgc(e["Orgc"], "Event")
    p += _check_tags(e.get("Tag", []), "Event")
    seen = set()
    for a in e["Attribute"]:
        w = "Attribute %s" % a.get("value")
        for k in ("uuid", "type", "category", "to_ids", "distribution",
                  "timestamp", "deleted", "value"):
            if k not in a:
                p.append("%s missing %s" % (w, k))
        if any(k not in a for k in ("uuid", "type", "category", "value")):
            continue
        if not _uuid(a["uuid"]) or a["uuid"] in seen:
            p.append("%s uuid" % w)
        seen.add(a["uuid"])
        if a["category"] != "Network activity" or \
                a["type"] not in MISP_NETWORK_TYPES:
            p.append("%s category/type %s/%s" % (w, a["category"],
                                                  a["type"]))
        if not isinstance(a.get("to_ids"), bool) or \
                not isinstance(a.get("deleted"), bool):
            p.append("%s to_ids/deleted not booleans" % w)
        if a.get("distribution") not in ("0", "1", "2", "3", "4", "5"):
            p.append("%s distribution" % w)
        if not _epoch(a.get("timestamp")):
            p.append("%s timestamp" % w)
        if a["type"] in ("ip-src", "ip-dst"):
            try:
                ipaddress.ip_network(a["value"])
            except ValueError:
                p.append("%s not an address" % w)
        for k in ("first_seen", "last_seen"):
            if a.get(k) is not None:
                try:
                    datetime.fromisoformat(a[k])
                except ValueError:
                    p.append("%s %s %r" % (w, k, a[k]))
        p += _check_tags(a.get("Tag", []), w)
    return p


def check_misp_manifest(man, events):
    """manifest.json against the event files (uuid -> document)."""
    p = []
    if not isinstance(man, dict) or not man:
        return ["manifest not an object of events"]
    for u, m in man.items():
        if not _uuid(u):
            p.append("manifest key %r" % u)
        if u not in events:
            p.append("manifest names %s, no such event file" % u)
            continue
        e = events[u]["Event"]
        for k in ("info", "date", "timestamp", "analysis",
                  "threat_level_id", "Orgc"):
            if k not in m:
                p.append("manifest %s missing %s" % (u, k))
            elif m[k] != e.get(k):
                p.append("manifest %s %s differs from the event" % (u, k))
        p += _check_tags(m.get("Tag", []), "manifest")
    return p


# ----------------------------------------------------------- AbuseIPDB --

def check_abuseipdb(text):
    p = []
    if len(text.encode()) >= 2 * 1024 * 1024:
        p.append("file of 2 MB or more")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or rows[0] != ["IP", "Categories", "ReportDate", "Comment"]:
        return p + ["headings %r" % (rows[:1],)]
    if len(rows) > 10000:
        p.append("more than 10,000 lines")
    for r in rows[1:]:
        if len(r) != 4:
            p.append("row %r: not 4 fields" % r)
            continue
        try:
            ipaddress.ip_address(r[0])
        except ValueError:
            p.append("row %r: not an IP address" % r)
        cats = r[1].split(",")
        if not cats or not all(c.isdigit() and 1 <= int(c) <= 23
                               for c in cats):
            p.append("row %r: categories" % r)
        try:
            d = datetime.fromisoformat(r[2])
            if d.tzinfo is None:
                p.append("row %r: date without a time zone" % r)
        except ValueError:
            p.append("row %r: date not ISO 8601" % r)
        if len(r[3].encode()) > 1024:
            p.append("row %r: comment over 1,024 bytes" % r)
    return p
