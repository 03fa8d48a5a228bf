#!/usr/bin/env python3
"""Generates snapshots/demo.json (format runner-snapshot/1) and snapshots/README.md.

Deterministic: ids are UUIDs derived from fixed names, times are offsets from CAPTURED_AT, so
running it twice gives byte-identical files. Python 3 standard library only.

Every JSON name below is the Genesys Cloud API's own (PureCloudPlatformClientV2 `attribute_map`):
analytics conversations (AnalyticsConversation / AnalyticsParticipant / AnalyticsSession /
AnalyticsConversationSegment), conversation details (Conversation / Participant / Message /
JourneyContext), external contacts (ExternalContact / PhoneNumber) and wrap-up codes.

Usage: python3 tools/make_demo_snapshot.py [--check]   (--check: fail if the files would change)
"""

import hashlib
import json
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_JSON = ROOT / "snapshots" / "demo.json"
OUT_README = ROOT / "snapshots" / "README.md"

CAPTURED_AT = datetime(2026, 11, 24, 12, 0, 0, tzinfo=timezone.utc)


def uid(name):
    """A UUID (version 4 layout, like Genesys ids) derived from `name`."""
    digest = hashlib.sha256(("runner-demo:" + name).encode("utf-8")).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def jitter(name, modulo):
    """A deterministic number in [0, modulo) derived from `name`."""
    return int.from_bytes(hashlib.sha256(("jitter:" + name).encode("utf-8")).digest()[:4], "big") % modulo


def iso(t):
    """Genesys style: UTC, milliseconds, Z."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def at(minutes_ago, name):
    """CAPTURED_AT minus `minutes_ago`, with deterministic seconds and milliseconds."""
    return CAPTURED_AT - timedelta(minutes=minutes_ago, seconds=jitter(name + ":s", 60), milliseconds=jitter(name + ":ms", 1000))


DIVISION = {"id": uid("division:home"), "name": "Home"}
DEPLOYMENT_ID = uid("webdeployment:www")
SCHEMA_ID = uid("externalcontacts:schema:customer-profile")

QUEUES = {name: uid("queue:" + name) for name in ["Sales", "Billing", "Support", "Collections"]}

WRAPUP_NAMES = [
    "Sale",
    "Upgrade",
    "Billing - Unresolved",
    "Billing - Resolved",
    "Complaint",
    "Technical Issue - Resolved",
    "Do Not Contact",
    "Callback Requested",
]
WRAPUPS = {name: uid("wrapupcode:" + name) for name in WRAPUP_NAMES}
# A code that was deleted after use: its id is in the analytics data but not in the code list.
DELETED_WRAPUP_ID = uid("wrapupcode:Retention Offer (deleted)")
# The id Genesys records when an agent's wrap-up timed out; not a code of the org's list either.
TIMEOUT_WRAPUP_ID = "ININ-WRAP-UP-TIMEOUT"

AGENTS = {
    name: uid("user:" + name)
    for name in ["Mia Schneider", "Lucas Bernard", "Emily Clarke", "Carlos Ruiz", "Hannah Weber", "Noah Evans"]
}

DEFAULT_QUEUE_FOR = {
    "Sale": "Sales",
    "Upgrade": "Sales",
    "Billing - Unresolved": "Billing",
    "Billing - Resolved": "Billing",
    "Complaint": "Support",
    "Technical Issue - Resolved": "Support",
    "Do Not Contact": "Support",
    "Callback Requested": "Sales",
}

LOCALES = {"en": "en-us", "de": "de-de", "fr": "fr-fr", "es": "es-es"}

# ---------------------------------------------------------------------------------------------
# Customers (external contacts). `present: False` = the id is used but the contact is not in the
# snapshot (a 404). `merged_from` = an older contact id merged into this one.
# ---------------------------------------------------------------------------------------------

CUSTOMERS = {}


def customer(key, first, last, *, ctype="Curated", loyalty="Standard", consent=True, work=None, personal=None,
             phone=None, e164=True, present=True, merged_from=None):
    CUSTOMERS[key] = dict(key=key, id=uid("contact:" + key), first=first, last=last, ctype=ctype, loyalty=loyalty,
                          consent=consent, work=work, personal=personal, phone=phone, e164=e164, present=present,
                          merged_from=uid("contact:" + merged_from) if merged_from else None)
    return key


def full_name(key):
    c = CUSTOMERS[key]
    parts = [p for p in (c["first"], c["last"]) if p]
    return " ".join(parts) if parts else None


# ---------------------------------------------------------------------------------------------
# Sessions: one active web-messaging conversation each, with the customer's history.
# history items: (days_ago_ended, wrap_up, media, extra options)
#   media: web | voice | email | sms | whatsapp
#   wrap_up: a code name, "deleted", "timeout" or None (no agent wrapped up)
# ---------------------------------------------------------------------------------------------

SESSIONS = []


def session(label, key, minutes_ago, queue, attrs, *, agent=None, history=(), note="", details=True,
            ended_minutes_ago=None, duplicate=False):
    SESSIONS.append(dict(label=label, key=key, minutes_ago=minutes_ago, queue=queue, attrs=attrs, agent=agent,
                         history=list(history), note=note, details=details, ended_minutes_ago=ended_minutes_ago,
                         duplicate=duplicate, id=uid("conversation:active:" + label)))


def attrs(plan, page, cart, language, *, tz=None, opt_out="false", segment="b2c", **extra):
    default_tz = {"en": "Europe/London", "de": "Europe/Berlin", "fr": "Europe/Paris", "es": "Europe/Madrid"}
    a = {
        "plan": plan,
        "page": page,
        "cart_value": cart,
        "language": language,
        "opt_out": opt_out,
        "segment": segment,
        "customer_time_zone": tz or default_tz[language],
    }
    a.update(extra)
    return a


customer("zoe", "Zoë", "Fischer", loyalty="Gold", personal="zoe.fischer@example.de", phone=("+49 151 23456781", "+4915123456781"))
session("S01", "zoe", 7, "Sales", attrs("premium", "/pricing/premium", "149.90", "de", utm_campaign="winter-sale"),
        history=[(20, "Sale", "web"), (64, "Technical Issue - Resolved", "voice")], duplicate=True,
        note="premium on /pricing/premium, cart 149.90: premium offer AND cart rescue; listed twice in active_conversations (overlapping pages)")

customer("jose", "José", "García", ctype="Identified", consent=False, work="jose.garcia@empresa.example.es", phone=("+34 612 345 678", "+34612345678"))
session("S02", "jose", 12, "Sales", attrs("enterprise", "/pricing", "0.00", "es", segment="b2b"),
        history=[(40, "Upgrade", "web")], note="enterprise on /pricing, one conversation 40 days ago: premium offer")

customer("asa", "Åsa", "Öberg", loyalty="VIP", work="asa.oberg@foretag.example.se", phone=("070-123 45 67", "+46701234567"))
session("S03", "asa", 25, "Sales", attrs("premium", "/pricing", "89.00", "en", tz="Europe/Stockholm", segment="b2b"),
        agent="Emily Clarke", history=[(45, "Sale", "email"), (100, "Upgrade", "web")],
        note="VIP, last contact 45 days ago, premium on /pricing: premium offer AND VIP welcome back")

customer("taro", "太郎", "山田", personal="taro.yamada@example.jp", phone=("090-1234-5678", "+819012345678"))
session("S04", "taro", 18, "Billing", attrs("basic", "/checkout", "320.00", "en", tz="Asia/Tokyo"),
        history=[(3, "Billing - Unresolved", "web"), (50, "Sale", "web")],
        note="last conversation Billing - Unresolved 3 days ago, on /checkout with cart 320.00: billing follow-up AND cart rescue")

customer("bjorn", "Björn", "Lindqvist", loyalty="VIP", work="bjorn.lindqvist@example.se", phone=("+46 70 987 65 43", "+46709876543"))
session("S05", "bjorn", 33, "Support", attrs("enterprise", "/support/router-setup", "0.00", "en", tz="Europe/Stockholm", segment="b2b"),
        note="VIP with no history at all: VIP welcome back (no previous contact counts as older than 30 days)")

customer("marie", "Marie", "Dubois", ctype="Identified", personal="marie.dubois@example.fr")
session("S06", "marie", 41, "Sales", attrs("premium", "/pricing/premium", "59.00", "fr"),
        note="premium on /pricing/premium but no history: premium offer skips (needs 1 previous conversation)")

customer("liam", "Liam", "O'Brien", personal="liam.obrien@example.ie", phone=("+353 85 123 4567", "+353851234567"))
session("S07", "liam", 9, "Sales", attrs("basic", "/pricing", "35.00", "en", tz="Europe/Dublin"),
        history=[(12, "Sale", "web")], note="basic plan on /pricing: premium offer skips (plan)")

customer("sophie", "Sophie", "Wagner", loyalty="Gold", personal="sophie.wagner@example.de")
session("S08", "sophie", 52, "Billing", attrs("premium", "/account/billing", "0.00", "de"),
        history=[(5, "Billing - Resolved", "web"), (22, "Billing - Unresolved", "voice")],
        note="last conversation Billing - Resolved (an older one Unresolved): billing follow-up skips")

customer("ethan", "Ethan", "Miller", personal="ethan.miller@example.com", phone=("(212) 555-0134", "+12125550134"))
session("S09", "ethan", 64, "Billing", attrs("basic", "/account/billing", "0.00", "en", tz="America/New_York"),
        history=[(20, "Billing - Unresolved", "web")], note="Billing - Unresolved 20 days ago: billing follow-up skips (too old)")

customer("olivia", "Olivia", "Brown", personal="olivia.brown@example.com", phone=("(312) 555-0188", "+13125550188"))
session("S10", "olivia", 15, "Billing", attrs("basic", "/account/billing", "0.00", "en", tz="America/Chicago"),
        history=[(0.25, "Billing - Unresolved", "web")], note="Billing - Unresolved 6 hours ago: billing follow-up skips (too recent)")

customer("lukas", "Lukas", "Becker", loyalty="Gold", work="lukas.becker@firma.example.de")
session("S11", "lukas", 71, "Support", attrs("premium", "/support/router-setup", "0.00", "de", segment="b2b"),
        history=[(2, "Billing - Resolved", "web"), (10, "Billing - Unresolved", "web")],
        note="Billing - Unresolved 10 days ago, then Billing - Resolved 2 days ago: billing follow-up skips")

customer("emma", "Emma", "Johnson", personal="emma.johnson@example.com", phone=("(415) 555-0101", "+14155550101"))
session("S12", "emma", 28, "Billing", attrs("basic", "/account/billing", "n/a", "en", tz="America/Los_Angeles"),
        history=[(8, "Billing - Unresolved", "web"), (90.5, "Sale", "web")],
        note="cart_value \"n/a\" (not a number); Billing - Unresolved 8 days ago: billing follow-up")

customer("mateo", "Mateo", "Fernández", personal="mateo.fernandez@example.es", phone=("+34 699 111 222", "+34699111222"))
session("S13", "mateo", 95, "Collections", attrs("basic", "/checkout/payment", "450.00", "es"),
        history=[(4, "Billing - Unresolved", "voice"), (35, "Billing - Unresolved", "web")],
        note="queue Collections with cart 450.00 on /checkout/payment: cart rescue skips (queue); billing follow-up matches")

customer("hannah", "Hannah", "Schmidt", loyalty="Gold", consent=False, personal="hannah.schmidt@example.at")
session("S14", "hannah", 22, "Sales", attrs("premium", "/checkout", "210.00", "de", tz="Europe/Vienna", opt_out="true"),
        history=[(15, "Sale", "web")], note="opt_out \"true\" on /checkout with cart 210.00: cart rescue skips (opt-out)")

customer("oliver", "Oliver", "Smith", loyalty="VIP", work="oliver.smith@example.co.uk", phone=("07700 900123", "+447700900123"))
session("S15", "oliver", 38, "Sales", attrs("premium", "/pricing/premium", "99.00", "en"),
        history=[(12, "Upgrade", "web"), (75, "Sale", "web")],
        note="VIP but last contact 12 days ago: VIP welcome back skips; premium offer matches; cart 99.00 is not over 100")

customer("chloe_old", "Chloé", "Lefèvre", present=False)
customer("chloe", "Chloé", "Lefèvre", loyalty="VIP", personal="chloe.lefevre@example.fr", phone=("06 12 34 56 78", "+33612345678"),
         merged_from="chloe_old")
session("S16", "chloe", 47, "Billing", attrs("enterprise", "/account/billing", "0.00", "fr", segment="b2b"),
        history=[(5, "Billing - Unresolved", "web", {"contact": "chloe_old"}), (70, "Sale", "web")],
        note="merged contact: the 5-day-old Billing - Unresolved is under the merged-away id. With the merge set: billing "
             "follow-up matches and VIP welcome back skips; without it, the other way round")

session("S17", None, 5, "Sales", attrs("basic", "/checkout", "75.00", "en", tz="America/New_York"),
        note="anonymous visitor: no externalContactId (cart rescue's audience matches via /checkout, but it cannot be messaged)")

customer("daniel", "Daniel", "Kim", present=False)
session("S18", "daniel", 30, "Sales", attrs("premium", "/pricing", "120.00", "en", tz="America/Los_Angeles"),
        history=[(30, "Sale", "web")],
        note="externalContactId whose contact is not in the snapshot (a 404); premium offer AND cart rescue")

customer("noah", "Noah", "Williams", loyalty="VIP", personal="noah.williams@example.com", phone=("(617) 555-0199", None))
session("S19", "noah", 56, "Support", None, history=[(95, "Sale", "web"), (110, "Complaint", "voice")],
        note="details without any attributes; VIP, last contact 95 days ago: VIP welcome back; contact phone has no e164")

customer("lea", "Lea", "Hoffmann", loyalty="Gold", personal="lea.hoffmann@example.de")
session("S20", "lea", 44, "Billing", attrs("premium", "/pricing", "130.00", "de"), details=False,
        history=[(9, "Billing - Unresolved", "web")],
        note="missing from conversation_details; Billing - Unresolved 9 days ago: billing follow-up (needs no details)")

customer("ava", "Ava", "Taylor", consent=False, personal="ava.taylor@example.com", phone=("(646) 555-0142", "+16465550142"))
session("S21", "ava", 19, "Sales", attrs("premium", "/pricing", "180.00", "en", tz="America/New_York"),
        history=[(25, "Do Not Contact", "voice"), (60, "Complaint", "web")],
        note="\"Do Not Contact\" 25 days ago (the last conversation); premium offer and cart rescue match unless they exclude it")

customer("jonas", "Jonas", "Richter", personal="jonas.richter@example.de")
session("S22", "jonas", 80, "Sales", attrs("premium", "/pricing", "300.00", "de"), ended_minutes_ago=10,
        history=[(30, "Sale", "web")],
        note="in active_conversations but already has conversationEnd: must be ignored")

customer("isabella", "Isabella", "Rossi", personal="isabella.rossi@example.it")
session("S23", "isabella", 66, "Support", attrs("basic", "/support/router-setup", "0.00", "en", tz="Europe/Rome"),
        history=[(15, "deleted", "web"), (40, "Billing - Unresolved", "web")],
        note="last conversation's wrap-up code id is not in the code list (a deleted code): wrap_up shows the id")

customer("sebastian", "Sebastian", "Koch", loyalty="VIP", work="sebastian.koch@firma.example.de", phone=("+49 170 5556677", "+491705556677"))
session("S24", "sebastian", 35, "Sales", attrs("enterprise", "/pricing/enterprise", "0.00", "de", segment="b2b"),
        history=[(100, "Upgrade", "web")],
        note="VIP, last contact 100 days ago: VIP welcome back; enterprise on /pricing/enterprise but nothing in 90 days")

customer("amelie", "Amélie", "Laurent", loyalty="VIP", personal="amelie.laurent@example.fr")
session("S25", "amelie", 58, "Billing", attrs("basic", "/account/billing", "0.00", "fr"),
        history=[(5, "Billing - Unresolved", "web"), (80, "Sale", "web")],
        note="VIP with Billing - Unresolved 5 days ago: billing follow-up; VIP welcome back skips")

customer("guest", None, None, ctype="Ephemeral", loyalty=None, consent=None)
session("S26", "guest", 3, "Sales", attrs("basic", "/checkout", "42.50", "en"),
        note="ephemeral contact without names or custom fields, on /checkout: cart rescue (templates need a default name)")

customer("ben", "Ben", "Carter", work="ben.carter@corp.example.com", phone=("(206) 555-0177", "+12065550177"))
session("S27", "ben", 48, "Sales", attrs("enterprise", "/pricing", "1299.00", "en", tz="America/Los_Angeles", segment="b2b"),
        agent="Carlos Ruiz", history=[(7, "Callback Requested", "voice", {"direction": "outbound"}), (33, "Sale", "web")],
        note="enterprise on /pricing with cart 1299.00, agent connected: premium offer AND cart rescue; its 7-day-old "
             "conversation is listed twice in history")

customer("nora", "Nora", "Svensson", loyalty="Gold", work="nora.svensson@example.se")
session("S28", "nora", 62, "Support", attrs("premium", "/support/router-setup", "0.00", "en", tz="Europe/Stockholm"),
        agent="Hannah Weber", history=[(2, "transfer", "web"), (58, "Technical Issue - Resolved", "web")],
        note="2-day-old conversation transferred Billing -> Support: two agent wrap-ups, the later (Technical Issue - Resolved) wins")

customer("pierre", "Pierre", "Moreau", personal="pierre.moreau@example.fr")
session("S29", "pierre", 74, "Sales", attrs("basic", "/pricing", "0.00", "fr"),
        history=[(50, "Complaint", "email")], note="basic on /pricing, a complaint 50 days ago: nothing matches")

customer("laura", "Laura", "Martínez", personal="laura.martinez@example.es", phone=("+34 655 443 322", "+34655443322"))
session("S30", "laura", 11, "Sales", attrs("premium", "/checkout", "89.90", "es"),
        history=[(18, "Sale", "web")], note="on /checkout with cart 89.90: cart rescue by page")

customer("felix", "Felix", "Braun", personal="felix.braun@example.de")
session("S31", "felix", 88, "Collections", attrs("basic", "/account/billing", "0.00", "de"),
        history=[(11, "Callback Requested", "voice", {"direction": "outbound"}), (30, "Billing - Unresolved", "web")],
        note="Collections; last conversation an outbound call (Callback Requested): nothing matches")

customer("grace", "Grace", "Lee", work="grace.lee@corp.example.com", phone=("(510) 555-0111", "+15105550111"))
session("S32", "grace", 27, "Sales", attrs("enterprise", "/pricing/enterprise", "0.00", "en", tz="America/Los_Angeles", segment="b2b"),
        history=[(6, "timeout", "web"), (45, "Upgrade", "web")],
        note="last wrap-up is ININ-WRAP-UP-TIMEOUT (not a code of the list); premium offer matches")

customer("tom", "Tom", "Schulz", personal="tom.schulz@example.de", phone=("+49 160 1112223", "+491601112223"))
session("S33", "tom", 14, "Support", attrs("basic", "/support/router-setup", "0.00", "de"),
        history=[(3, "Technical Issue - Resolved", "sms")], note="SMS history only: nothing matches")

customer("sofia", "Sofía", "Herrera", personal="sofia.herrera@example.mx", phone=("55 1234 5678", "+525512345678"))
session("S34", "sofia", 20, "Billing", attrs("premium", "/pricing", "149.00", "es", tz="America/Mexico_City"),
        history=[(2, "Billing - Unresolved", "web"), (26, "Sale", "whatsapp")],
        note="premium on /pricing, cart 149.00, Billing - Unresolved 2 days ago: premium offer, billing follow-up AND cart rescue")

customer("william", "William", "Jones", personal="william.jones@example.com")
session("S35", "william", 120, "Support", attrs("basic", "/support/router-setup", "0.00", "en", tz="America/New_York"),
        history=[(70, "Complaint", "whatsapp"), (71, None, "web")],
        note="WhatsApp complaint 70 days ago, and a conversation nobody wrapped up (abandoned in queue): nothing matches")

customer("renee", "Renée", "Dupont", loyalty="Gold", work="renee.dupont@societe.example.fr")
session("S36", "renee", 140, "Collections", attrs("enterprise", "/pricing", "250.00", "fr", segment="b2b"),
        history=[(20, "Billing - Unresolved", "web"), (85, "Sale", "email")],
        note="enterprise on /pricing in Collections with cart 250.00: premium offer matches, cart rescue skips (queue)")

# Older conversations that change no outcome but make the history realistic (days_ago, wrap-up, media).
FILLER = {
    "zoe": [(88, "Sale", "web")],
    "jose": [(118, "Complaint", "email")],
    "asa": [(112, "Sale", "web")],
    "taro": [(74, "Technical Issue - Resolved", "web")],
    "liam": [(81, "Sale", "sms")],
    "sophie": [(97, "Upgrade", "web")],
    "ethan": [(55, "Sale", "voice")],
    "lukas": [(57, "Technical Issue - Resolved", "voice")],
    "mateo": [(77, "Billing - Resolved", "web")],
    "hannah": [(103, "Sale", "email")],
    "oliver": [(99, "Sale", "voice")],
    "chloe": [(92, "Upgrade", "email")],
    "daniel": [(63, "Technical Issue - Resolved", "web")],
    "noah": [(117, "Sale", "web")],
    "lea": [(84, "Technical Issue - Resolved", "voice")],
    "ava": [(95, "Sale", "web")],
    "isabella": [(72, "Sale", "web")],
    "sebastian": [(119, "Sale", "voice")],
    "amelie": [(105, "Upgrade", "web")],
    "ben": [(111, "Technical Issue - Resolved", "email")],
    "nora": [(86, "Sale", "web")],
    "pierre": [(98, "Sale", "web")],
    "laura": [(52, "Technical Issue - Resolved", "whatsapp")],
    "felix": [(59, "Billing - Unresolved", "voice")],
    "grace": [(79, "Sale", "web")],
    "sofia": [(67, "Technical Issue - Resolved", "web")],
    "william": [(114, "Sale", "voice")],
}

# ---------------------------------------------------------------------------------------------
# Builders (API shapes)
# ---------------------------------------------------------------------------------------------


def customer_session_json(sid, media, direction, key, start, end, journey=None):
    c = CUSTOMERS.get(key) if key else None
    s = {"sessionId": sid}
    if media == "voice":
        phone = (c and c["phone"] and (c["phone"][1] or c["phone"][0])) or "+18005550100"
        s.update(mediaType="voice", direction=direction, ani="tel:" + phone, dnis="tel:+18005550100",
                 addressFrom="tel:" + phone, addressTo="tel:+18005550100")
    elif media == "email":
        addr = (c and (c["work"] or c["personal"])) or "unknown@example.com"
        s.update(mediaType="email", direction=direction, addressFrom=addr, addressTo="support@example.com")
    elif media in ("sms", "whatsapp"):
        phone = (c and c["phone"] and (c["phone"][1] or c["phone"][0])) or "+18005550100"
        s.update(mediaType="message", messageType=media, direction=direction, addressFrom=phone, addressTo="+18005550100")
    else:
        s.update(mediaType="message", messageType="webmessaging", direction=direction)
    if journey:
        s.update(journeyCustomerId=journey[0], journeyCustomerIdType="cookie",
                 journeyCustomerSessionId=journey[1], journeyCustomerSessionIdType="web")
    seg = {"segmentStart": iso(start), "segmentType": "interact"}
    if end:
        seg.update(segmentEnd=iso(end), disconnectType="client")
    s["segments"] = [seg]
    return s


def media_of(media):
    if media == "voice":
        return {"mediaType": "voice"}
    if media == "email":
        return {"mediaType": "email"}
    if media in ("sms", "whatsapp"):
        return {"mediaType": "message", "messageType": media}
    return {"mediaType": "message", "messageType": "webmessaging"}


def routed_participants(cid, start, end, legs, media, direction):
    """ACD and agent participants. legs: [(queue, agent or None, wrap-up id or None)], in order.
    Each leg waits 20-80 s in queue, then the agent handles it; the last leg runs until `end`."""
    session_media = dict(media_of(media), direction=direction)
    participants = []
    total = (end or CAPTURED_AT) - start
    leg_len = total / len(legs)
    for i, (queue, agent, wrap) in enumerate(legs):
        leg_start = start + leg_len * i + timedelta(seconds=2)
        wait = timedelta(seconds=20 + jitter(cid + ":wait:%d" % i, 60))
        accepted = leg_start + wait if agent else None
        leg_end = None if (end is None and i == len(legs) - 1) else start + leg_len * (i + 1)
        acd_seg = {"segmentStart": iso(leg_start), "segmentType": "interact", "queueId": QUEUES[queue]}
        acd_end = accepted or leg_end
        if acd_end:
            acd_seg.update(segmentEnd=iso(acd_end), disconnectType="transfer" if accepted else "client")
        participants.append({
            "participantId": uid(cid + ":participant:acd:%d" % i),
            "participantName": queue,
            "purpose": "acd",
            "sessions": [dict(sessionId=uid(cid + ":session:acd:%d" % i), **session_media, segments=[acd_seg])],
        })
        if agent:
            alert_end = accepted + timedelta(seconds=4 + jitter(cid + ":alert:%d" % i, 9))
            segs = [
                {"segmentStart": iso(accepted), "segmentEnd": iso(alert_end), "segmentType": "alert", "queueId": QUEUES[queue]},
                {"segmentStart": iso(alert_end), "segmentType": "interact", "queueId": QUEUES[queue]},
            ]
            if leg_end:
                segs[1].update(segmentEnd=iso(leg_end), disconnectType="transfer" if i < len(legs) - 1 else "client")
                wrap_end = leg_end + timedelta(seconds=30 + jitter(cid + ":acw:%d" % i, 90))
                wrap_seg = {"segmentStart": iso(leg_end), "segmentEnd": iso(wrap_end), "segmentType": "wrapup",
                            "queueId": QUEUES[queue]}
                if wrap:
                    wrap_seg["wrapUpCode"] = wrap
                segs.append(wrap_seg)
            participants.append({
                "participantId": uid(cid + ":participant:agent:%d" % i),
                "participantName": agent,
                "purpose": "agent",
                "userId": AGENTS[agent],
                "sessions": [dict(sessionId=uid(cid + ":session:agent:%d" % i), **session_media, segments=segs)],
            })
    return participants


def wrap_id(name):
    if name == "deleted":
        return DELETED_WRAPUP_ID
    if name == "timeout":
        return TIMEOUT_WRAPUP_ID
    return WRAPUPS[name]


def past_conversation(s, index, days_ago, wrap, media, opts):
    key = s["key"]
    contact_key = opts.get("contact", key)
    cid = uid("conversation:past:%s:%d" % (key, index))
    name = "past:%s:%d" % (key, index)
    end = at(days_ago * 24 * 60, name + ":end")
    minutes = {"voice": 9, "email": 45, "sms": 30, "whatsapp": 25}.get(media, 18) + jitter(name + ":len", 20)
    start = end - timedelta(minutes=minutes, seconds=jitter(name + ":len-s", 60))
    direction = opts.get("direction", "inbound")
    c = CUSTOMERS[contact_key]
    cust = {
        "participantId": uid(cid + ":participant:customer"),
        "purpose": "customer",
        "externalContactId": c["id"],
        "sessions": [customer_session_json(uid(cid + ":session:customer"), media, direction, contact_key, start, end)],
    }
    if full_name(contact_key):
        cust["participantName"] = full_name(contact_key)
    agents = list(AGENTS)
    if wrap == "transfer":
        legs = [("Billing", agents[jitter(cid + ":a0", 6)], WRAPUPS["Billing - Unresolved"]),
                ("Support", agents[jitter(cid + ":a1", 6)], WRAPUPS["Technical Issue - Resolved"])]
    elif wrap is None:
        legs = [(opts.get("queue", "Billing"), None, None)]
    else:
        queue = opts.get("queue") or DEFAULT_QUEUE_FOR.get(wrap, "Support")
        legs = [(queue, agents[jitter(cid + ":a", 6)], wrap_id(wrap))]
    return {
        "conversationId": cid,
        "conversationStart": iso(start),
        "conversationEnd": iso(end),
        "originatingDirection": direction,
        "divisionIds": [DIVISION["id"]],
        "participants": [cust] + routed_participants(cid, start, end, legs, media, direction),
    }


def active_conversation(s):
    cid = s["id"]
    start = at(s["minutes_ago"], "active:" + s["label"])
    end = at(s["ended_minutes_ago"], "active-end:" + s["label"]) if s["ended_minutes_ago"] is not None else None
    key = s["key"]
    journey = (uid(cid + ":journey-customer"), uid(cid + ":journey-session"))
    cust = {"participantId": uid(cid + ":participant:customer"), "purpose": "customer"}
    if key:
        cust["participantName"] = full_name(key) or "Guest"
        cust["externalContactId"] = CUSTOMERS[key]["id"]
    cust["sessions"] = [customer_session_json(uid(cid + ":session:customer"), "web", "inbound", key, start, end, journey)]
    legs = [(s["queue"], s["agent"], None)]
    conv = {
        "conversationId": cid,
        "conversationStart": iso(start),
        "originatingDirection": "inbound",
        "divisionIds": [DIVISION["id"]],
        "participants": [cust] + routed_participants(cid, start, end, legs, "web", "inbound"),
    }
    if end:
        conv = dict(list(conv.items())[:2] + [("conversationEnd", iso(end))] + list(conv.items())[2:])
    return conv, start, end, journey


def message_json(sid, state, start, journey=None):
    m = {"id": sid, "state": state, "direction": "inbound", "held": False, "type": "webmessaging",
         "connectedTime": iso(start)}
    if journey:
        m["journeyContext"] = {"customer": {"id": journey[0], "idType": "cookie"},
                               "customerSession": {"id": journey[1], "type": "web"}}
    return m


def details_json(s, analytics, start, end, journey):
    """GET /api/v2/conversations/{id} for an active session, consistent with its analytics record."""
    cid = s["id"]
    key = s["key"]
    parts = []
    by_purpose = {p["purpose"]: p for p in analytics["participants"]}
    cust = {"id": by_purpose["customer"]["participantId"], "startTime": iso(start), "connectedTime": iso(start),
            "purpose": "customer"}
    if end:
        cust["endTime"] = iso(end)
    if key:
        cust["name"] = full_name(key) or "Guest"
        cust["externalContactId"] = CUSTOMERS[key]["id"]
    if s["attrs"] is not None:
        cust["locale"] = LOCALES[s["attrs"]["language"]]
        cust["attributes"] = s["attrs"]
    cust["wrapupRequired"] = False
    cust["messages"] = [message_json(by_purpose["customer"]["sessions"][0]["sessionId"],
                                     "disconnected" if end else "connected", start, journey)]
    parts.append(cust)
    acd = by_purpose["acd"]
    acd_seg = acd["sessions"][0]["segments"][0]
    acd_p = {"id": acd["participantId"], "startTime": acd_seg["segmentStart"], "connectedTime": acd_seg["segmentStart"],
             "name": s["queue"], "queueId": QUEUES[s["queue"]], "queueName": s["queue"], "purpose": "acd",
             "wrapupRequired": False}
    if "segmentEnd" in acd_seg:
        acd_p["endTime"] = acd_seg["segmentEnd"]
    acd_p["messages"] = [message_json(acd["sessions"][0]["sessionId"],
                                      "disconnected" if "segmentEnd" in acd_seg else "connected",
                                      datetime.fromisoformat(acd_seg["segmentStart"].replace("Z", "+00:00")))]
    parts.append(acd_p)
    if "agent" in by_purpose:
        ag = by_purpose["agent"]
        seg = ag["sessions"][0]["segments"][1]
        parts.append({
            "id": ag["participantId"], "startTime": ag["sessions"][0]["segments"][0]["segmentStart"],
            "connectedTime": seg["segmentStart"], "name": s["agent"], "userUri": "/api/v2/users/" + AGENTS[s["agent"]],
            "userId": AGENTS[s["agent"]], "queueId": QUEUES[s["queue"]], "queueName": s["queue"], "purpose": "agent",
            "wrapupRequired": True,
            "messages": [message_json(ag["sessions"][0]["sessionId"], "connected",
                                      datetime.fromisoformat(seg["segmentStart"].replace("Z", "+00:00")))],
        })
    d = {"id": cid, "startTime": iso(start)}
    if end:
        d["endTime"] = iso(end)
    d.update(participants=parts, recordingState="NONE",
             divisions=[{"division": {"id": DIVISION["id"], "selfUri": "/api/v2/authorization/divisions/" + DIVISION["id"]},
                         "entities": []}],
             selfUri="/api/v2/conversations/" + cid)
    return d


def contact_json(c):
    d = {"id": c["id"]}
    if c["first"]:
        d["firstName"] = c["first"]
    if c["last"]:
        d["lastName"] = c["last"]
    if c["work"]:
        d["workEmail"] = c["work"]
    if c["personal"]:
        d["personalEmail"] = c["personal"]
    if c["phone"]:
        display, e164 = c["phone"]
        d["cellPhone"] = {"display": display, "e164": e164} if e164 else {"display": display}
    if c["loyalty"] is not None:
        d["schema"] = {"id": SCHEMA_ID, "version": 3}
        d["customFields"] = {"loyalty_level": c["loyalty"], "marketing_consent": c["consent"]}
    d["type"] = c["ctype"]
    d["division"] = {"id": DIVISION["id"], "name": DIVISION["name"],
                     "selfUri": "/api/v2/authorization/divisions/" + DIVISION["id"]}
    created = CAPTURED_AT - timedelta(days=200 + jitter(c["key"] + ":created", 700))
    d["createDate"] = iso(created)
    d["modifyDate"] = iso(created + timedelta(days=jitter(c["key"] + ":modified", 150)))
    if c["merged_from"]:
        d["mergeSet"] = [{"id": c["id"], "selfUri": "/api/v2/externalcontacts/contacts/" + c["id"]},
                         {"id": c["merged_from"], "selfUri": "/api/v2/externalcontacts/contacts/" + c["merged_from"]}]
    d["selfUri"] = "/api/v2/externalcontacts/contacts/" + c["id"]
    return d


# ---------------------------------------------------------------------------------------------
# What the four bundled campaigns should decide (a plain re-statement, for the README and as a
# self-check of the data's design)
# ---------------------------------------------------------------------------------------------


def parse(t):
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


def expected(snapshot):
    wrapnames = {w["id"]: w["name"] for w in snapshot["wrapup_codes"]}
    rows = []
    for s in SESSIONS:
        if s["ended_minutes_ago"] is not None:
            continue
        key = s["key"]
        c = CUSTOMERS.get(key) if key else None
        ids = set()
        if c:
            ids.add(c["id"])
            if c["merged_from"] and c["present"]:
                ids.add(c["merged_from"])
        hist = []
        for h in snapshot["history"]:
            cust = next(p for p in h["participants"] if p["purpose"] == "customer")
            if cust.get("externalContactId") in ids and h["conversationId"] not in {x[0] for x in hist}:
                wrap = None
                for p in h["participants"]:
                    for sess in p.get("sessions", []):
                        for seg in sess["segments"]:
                            if p["purpose"] == "agent" and seg.get("wrapUpCode"):
                                wrap = wrapnames.get(seg["wrapUpCode"], seg["wrapUpCode"])
                hist.append((h["conversationId"], parse(h["conversationEnd"]), wrap))
        hist.sort(key=lambda x: x[1], reverse=True)
        age = lambda t: CAPTURED_AT - t  # noqa: E731
        a = s["attrs"] if s["details"] else None
        out = {}
        if key is None:
            out = {k: "no contact" for k in "ABCD"}
        else:
            in90 = [h for h in hist if age(h[1]) <= timedelta(days=90)]
            if a is None:
                out["A"] = "no details" if not s["details"] else "no"
            else:
                out["A"] = "MATCH" if a["plan"] in ("premium", "enterprise") and "pricing" in a["page"] and in90 else "no"
            in30 = [h for h in hist if age(h[1]) <= timedelta(days=30)]
            last = in30[0] if in30 else None
            out["B"] = "MATCH" if last and last[2] == "Billing - Unresolved" and timedelta(days=1) <= age(last[1]) <= timedelta(days=14) else "no"
            vip = c["present"] and c["loyalty"] == "VIP"
            out["C"] = "MATCH" if vip and not in30 else "no"
            if a is None:
                out["D"] = "no details" if not s["details"] else "no"
            else:
                try:
                    cart_big = float(a["cart_value"]) > 100
                except ValueError:
                    cart_big = False
                out["D"] = "MATCH" if (cart_big or a["page"].startswith("/checkout")) and s["queue"] != "Collections" and a["opt_out"] != "true" else "no"
        rows.append((s, out))
    return rows


def build():
    history = []
    active = []
    details = {}
    for s in SESSIONS:
        conv, start, end, journey = active_conversation(s)
        active.append(conv)
        if s["duplicate"]:
            active.append(conv)
        if s["details"]:
            details[s["id"]] = details_json(s, conv, start, end, journey)
        if s["key"] is None:
            continue
        items = [(d, w, m, o[0] if o else {}) for (d, w, m, *o) in s["history"]]
        items += [(d, w, m, {}) for (d, w, m) in FILLER.get(s["key"], [])]
        for i, (days, wrap, media, opts) in enumerate(items):
            conv_h = past_conversation(s, i, days, wrap, media, opts)
            history.append(conv_h)
            if s["label"] == "S27" and i == 0:
                history.append(conv_h)  # overlapping analytics pages
    history.sort(key=lambda h: h["conversationEnd"], reverse=True)
    contacts = {c["id"]: contact_json(c) for c in CUSTOMERS.values() if c["present"]}
    return {
        "format": "runner-snapshot/1",
        "captured_at": "2026-11-24T12:00:00Z",
        "description": "Demo data: 36 web-messaging sessions of a fictional telecom shop, with their customers' "
                       "contacts and 120 days of history. Generated by tools/make_demo_snapshot.py; see "
                       "snapshots/README.md.",
        "active_conversations": active,
        "conversation_details": dict(sorted(details.items())),
        "external_contacts": dict(sorted(contacts.items())),
        "history": history,
        "wrapup_codes": [{"id": WRAPUPS[n], "name": n} for n in WRAPUP_NAMES],
    }


def readme(snapshot, rows):
    lines = [
        "# Demo snapshot",
        "",
        "`demo.json` is a `runner-snapshot/1` file generated by `tools/make_demo_snapshot.py` (deterministic:",
        "re-running it gives the same bytes; edit the script, not the JSON). Captured at",
        "`2026-11-24T12:00:00Z`; every name in it is the Genesys API's own JSON name (checked against the",
        "PureCloudPlatformClientV2 SDK models).",
        "",
        "- %d entries in `active_conversations` (%d distinct conversations: S01 is listed twice, as overlapping"
        % (len(snapshot["active_conversations"]), len({c["conversationId"] for c in snapshot["active_conversations"]})),
        "  analytics pages produce; S22 already has `conversationEnd`), all `mediaType` `message`, `messageType`",
        "  `webmessaging`, started 3 to 140 minutes before the capture.",
        "- %d `conversation_details` (S20 is missing), %d `external_contacts`, %d `history` entries"
        % (len(snapshot["conversation_details"]), len(snapshot["external_contacts"]), len(snapshot["history"])),
        "  (ended 6 hours to 119 days before the capture; one listed twice), %d `wrapup_codes`." % len(snapshot["wrapup_codes"]),
        "- Queues: " + ", ".join("%s `%s`" % (n, q) for n, q in QUEUES.items()) + ".",
        "- Wrap-up codes: " + ", ".join("%s `%s`" % (n, WRAPUPS[n]) for n in WRAPUP_NAMES) + ".",
        "  Not in the list but used in history: `%s` (a deleted code, S23) and `%s` (S32)."
        % (DELETED_WRAPUP_ID, TIMEOUT_WRAPUP_ID),
        "- Attributes (all strings): `plan`, `page`, `cart_value`, `language`, `opt_out`, `segment`,",
        "  `customer_time_zone` (S01 also has `utm_campaign`). Contact custom fields: `loyalty_level`",
        "  (VIP / Gold / Standard) and `marketing_consent` (JSON boolean). Contact `type` is spelled as the",
        "  SDK's enum: `Curated`, `Identified`, `Ephemeral` (the normalized model lower-cases it).",
        "",
        "## Sessions",
        "",
        "Expected decisions of the four bundled campaigns, before priorities: A premium specialist offer",
        "(plan premium/enterprise, page contains `pricing`, at least 1 conversation in 90 days), B billing",
        "follow-up (last conversation wrapped up `Billing - Unresolved`, ended 1 to 14 days ago), C VIP",
        "welcome back (`loyalty_level` VIP, no contact in the last 30 days), D cart rescue (`cart_value` as a",
        "number > 100 or page starts with `/checkout`, queue not Collections, `opt_out` not `\"true\"`).",
        "\"no contact\": no `externalContactId`; \"no details\": conversation details unavailable.",
        "",
        "| | conversation id | customer (contact id) | A | B | C | D | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ended = [s for s in SESSIONS if s["ended_minutes_ago"] is not None]
    decided = {s["label"]: out for s, out in rows}
    for s in SESSIONS:
        key = s["key"]
        if key is None:
            who = "anonymous (no externalContactId)"
        else:
            c = CUSTOMERS[key]
            who = "%s (`%s`%s)" % (full_name(key) or "(no name, ephemeral)", c["id"], "" if c["present"] else ", not in snapshot")
        out = decided.get(s["label"])
        cells = [out[k] for k in "ABCD"] if out else ["ignored"] * 4
        lines.append("| %s | `%s` | %s | %s | %s |" % (s["label"], s["id"], who, " | ".join(cells), s["note"]))
    chloe = CUSTOMERS["chloe"]
    lines += [
        "",
        "## Edge cases at a glance",
        "",
        "- Anonymous visitor (no `externalContactId`): S17.",
        "- Contact id absent from `external_contacts` (acts as a 404): S18 (`%s`)." % CUSTOMERS["daniel"]["id"],
        "- Merged contact: S16, contact `%s` with `mergeSet` [itself, `%s`]; its newest conversation is under" % (chloe["id"], chloe["merged_from"]),
        "  `%s`, which has no contact record of its own." % chloe["merged_from"],
        "- Customers with no history: S05 (VIP), S06, S26 (ephemeral, no names).",
        "- Details without `attributes` (and without `locale`): S19.",
        "- Missing from `conversation_details`: S20.",
        "- Non-ASCII names: Zoë Fischer (S01), José García (S02), Åsa Öberg (S03), 山田 太郎 (S04, firstName 太郎,",
        "  lastName 山田), Björn Lindqvist (S05), Mateo Fernández (S13), Chloé Lefèvre (S16), Amélie Laurent (S25),",
        "  Laura Martínez (S30), Sofía Herrera (S34), Renée Dupont (S36).",
        "- Wrap-up id not in the code list: S23 (deleted code, the last conversation) and S32 (`ININ-WRAP-UP-TIMEOUT`).",
        "- \"Do Not Contact\" in history: S21 (its last conversation, 25 days ago).",
        "- Already ended but listed as active: %s." % ", ".join("S22 (`%s`)" % s["id"] for s in ended),
        "- Duplicates: S01 twice in `active_conversations`; S27's 7-day-old conversation twice in `history`.",
        "- `cart_value` that is not a number (`\"n/a\"`): S12.",
        "- Transfer with two agent wrap-ups (the later one counts): S28's 2-day-old conversation.",
        "- Conversation without any wrap-up (abandoned in queue): S35's 71-day-old conversation.",
        "- Cell phone without `e164` (display only): S19's contact.",
        "- Several campaigns at once: S01, S18, S21, S27 (A and D), S03 (A and C), S04 (B and D), S34 (A, B and D).",
        "",
    ]
    return "\n".join(lines)


def main():
    snapshot = build()
    rows = expected(snapshot)
    text = json.dumps(snapshot, ensure_ascii=False, indent=2) + "\n"
    doc = readme(snapshot, rows)
    if "--check" in sys.argv[1:]:
        stale = [p for p, t in ((OUT_JSON, text), (OUT_README, doc)) if not p.exists() or p.read_text("utf-8") != t]
        if stale:
            sys.exit("out of date: " + ", ".join(str(p) for p in stale))
        return
    OUT_JSON.parent.mkdir(parents=True, exist_ok=True)
    OUT_JSON.write_text(text, "utf-8")
    OUT_README.write_text(doc, "utf-8")
    counts = {k: sum(1 for _, out in rows if out[k] == "MATCH") for k in "ABCD"}
    print("wrote %s (%d active entries, %d details, %d contacts, %d history) and %s"
          % (OUT_JSON.relative_to(ROOT), len(snapshot["active_conversations"]), len(snapshot["conversation_details"]),
             len(snapshot["external_contacts"]), len(snapshot["history"]), OUT_README.relative_to(ROOT)))
    print("expected matches: " + ", ".join("%s %d" % kv for kv in counts.items()))


if __name__ == "__main__":
    main()
