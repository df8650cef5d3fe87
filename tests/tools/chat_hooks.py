#!/usr/bin/env python3
"""chat_hooks.py - loopback HTTPS doubles of a Teams workflow webhook and a
Slack incoming webhook for the teams/slack sinks' tests, written from
Microsoft's "Create incoming webhooks with Workflows for Microsoft Teams"
(the "Post to a channel when a webhook request is received" template takes
{"type":"message","attachments":[{"contentType":
"application/vnd.microsoft.card.adaptive","content":{AdaptiveCard}}]}; Teams
renders Adaptive Cards up to version 1.5; answers 202 Accepted) and Slack's
"Sending messages using incoming webhooks" and Block Kit reference (text and
blocks; at most 50 blocks; a header's plain_text at most 150 characters; a
section's text at most 3000 and at most 10 fields of 2000; answers 200 "ok",
400 "invalid_payload"/"invalid_blocks", 403 "invalid_token", 404
"no_service", 410 "channel_is_archived", 429 with Retry-After).

Routes: POST /teams/<anything> and POST /slack/<anything>. A message that
does not follow the documented shape is answered 400 naming the problem and
is not kept. Faults and the request log: crmdouble.py (e.g. {"route":
"POST /slack", "status": 429, "headers": {"Retry-After": "1"}}).
GET /__state: {"teams": [bodies...], "slack": [bodies...]}.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crmdouble  # noqa: E402

CARD = "application/vnd.microsoft.card.adaptive"
CARD_ELEMENTS = {"TextBlock", "FactSet", "Container", "ColumnSet", "Image", "RichTextBlock"}
CARD_VERSIONS = {"1.0", "1.1", "1.2", "1.3", "1.4", "1.5"}
SLACK_BLOCKS = {"header", "section", "context", "divider", "actions", "rich_text"}


def text_of(o):
    return o.get("text") if isinstance(o, dict) and isinstance(o.get("text"), str) else None


def teams_problem(b):
    if not isinstance(b, dict) or b.get("type") != "message":
        return "type must be message"
    atts = b.get("attachments")
    if not isinstance(atts, list) or not atts:
        return "attachments must be a non-empty list"
    for a in atts:
        if a.get("contentType") != CARD:
            return "contentType must be " + CARD
        c = a.get("content")
        if not isinstance(c, dict) or c.get("type") != "AdaptiveCard":
            return "content must be an AdaptiveCard"
        if c.get("version") not in CARD_VERSIONS:
            return "unsupported card version %r" % c.get("version")
        if not isinstance(c.get("body"), list):
            return "card body must be a list"
        for e in c["body"]:
            if e.get("type") not in CARD_ELEMENTS:
                return "unknown element %r" % e.get("type")
            if e["type"] == "TextBlock" and not isinstance(e.get("text"), str):
                return "TextBlock without text"
            if e["type"] == "FactSet":
                for f in e.get("facts", []):
                    if not isinstance(f.get("title"), str) or not isinstance(f.get("value"), str):
                        return "fact without title or value"
        for act in c.get("actions", []):
            if act.get("type") != "Action.OpenUrl" or not isinstance(act.get("url"), str):
                return "unknown action"
    return None


def slack_problem(b):
    if not isinstance(b, dict) or not isinstance(b.get("text"), str) or not b["text"]:
        return "invalid_payload"
    blocks = b.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks"
    for blk in blocks:
        t = blk.get("type")
        if t not in SLACK_BLOCKS:
            return "invalid_blocks"
        if t == "header":
            h = blk.get("text") or {}
            if h.get("type") != "plain_text" or not text_of(h) or len(h["text"]) > 150:
                return "invalid_blocks"
        if t == "section":
            fields = blk.get("fields")
            if text_of(blk.get("text")) is None and not fields:
                return "invalid_blocks"
            if text_of(blk.get("text")) is not None and len(blk["text"]["text"]) > 3000:
                return "invalid_blocks"
            if fields is not None and (len(fields) > 10 or any(
                    f.get("type") not in ("mrkdwn", "plain_text") or text_of(f) is None
                    or len(f["text"]) > 2000 for f in fields)):
                return "invalid_blocks"
    return None


class ChatHooks(crmdouble.Double):
    def __init__(self, args):
        super().__init__(args)
        self.records = {"teams": [], "slack": []}

    def api(self, headers, method, path, query, raw):
        kind = path.strip("/").split("/")[0]
        if method == "OPTIONS":
            return 200, None, {"Allow": "POST"}
        if method != "POST" or kind not in ("teams", "slack"):
            return 404, "no_service", {"Content-Type": "text/plain"}
        if "json" not in (headers.get("Content-Type") or ""):
            return 415, "unsupported media type", {"Content-Type": "text/plain"}
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, "invalid_payload", {"Content-Type": "text/plain"}
        problem = teams_problem(body) if kind == "teams" else slack_problem(body)
        if problem:
            return 400, problem, {"Content-Type": "text/plain"}
        with self.lock:
            self.records[kind].append(body)
        if kind == "teams":
            return 202, None, None
        return 200, "ok", {"Content-Type": "text/plain"}


def main():
    args = crmdouble.base_args(__doc__).parse_args()
    d = ChatHooks(args)
    crmdouble.serve(d)


if __name__ == "__main__":
    main()
