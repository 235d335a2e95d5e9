#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets, made from fixtures/, into
OUTDIR/<target>/: nothing binary is kept in the repository.

Usage: tests/fuzz/seeds.py FIXTURES OUTDIR

  fuzz_yaml           every YAML file of the fixtures
  fuzz_fleet          every fixture fleet as one input ("### path" lines)
  fuzz_render         the release files of every fixture fleet, and strings
  fuzz_json           every YAML document of the fixtures written as JSON
  fuzz_notes_merge    ledger notes of each fixture fleet's tenants, two by two
  fuzz_driver_answer  driver answers: each fleet's templates as observed resources
  fuzz_xml            AWS query answers and errors (STS, IMDS-like), CDATA, a DOCTYPE
  fuzz_aws_state      aws driver state parameters: markers, identifiers, regions
  fuzz_loose          loose objects: a tree of each fixture fleet's files, blobs of
                      its YAML files, compressed by the target (first byte 1) or
                      here (first byte 0), some with bytes after the stream
"""
import hashlib
import json
import os
import sys
import zlib

import yaml

MAX_SEED = 64 * 1024


AWS_STATE_SEEDS = [
    '{"generation":0,"marker":null,"regions":[],"resources":[],"version":1}',
    '{"generation":3,"marker":{"inputs_fingerprint":"8f9be2f4fee377a70df5c1c415e7b267","resources":2,'
    '"revision":"7aeaf8911fa6545bc9c87c100f116d786df5b1c5","tenant_fingerprint":"ddc81791bf095b09fd5b552450b241ea"},'
    '"regions":["us-east-1","eu-west-1"],"resources":[{"id":"/app/acme/config","keys":["Name","Type","Value"],'
    '"kind":"AWS::SSM::Parameter","name":"config"},{"id":"http://sqs.eu-west-1.localhost/2/acme-jobs",'
    '"keys":["QueueName"],"kind":"AWS::SQS::Queue","name":"jobs"}],"version":1}',
    '{"generation":1,"marker":null,"regions":["us-east-1","us-east-1"],"resources":[{"id":"x","keys":[],'
    '"kind":"service","name":"a"}],"version":1}',
]

XML_SEEDS = [
    '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
    '  <AssumeRoleWithWebIdentityResult>\n    <Credentials>\n'
    '      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>\n      <SecretAccessKey>secret</SecretAccessKey>\n'
    '      <SessionToken>token</SessionToken>\n      <Expiration>2026-12-06T11:00:00Z</Expiration>\n'
    '    </Credentials>\n  </AssumeRoleWithWebIdentityResult>\n'
    '  <ResponseMetadata><RequestId>ad4156e9</RequestId></ResponseMetadata>\n'
    '</AssumeRoleWithWebIdentityResponse>\n',
    '<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    '<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized &amp; &lt;denied&gt;</Message>'
    '</Error><RequestId>1</RequestId></ErrorResponse>',
    '<p:a xmlns:p="urn:x" p:k="v"><p:b><![CDATA[<x> & y]]></p:b><c/>&#65;&#x42;</p:a>',
    '<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>',
]


def files_of(top):
    """(relative path, bytes) of the files of a fixture fleet, sorted; no 'expected'."""
    out = []
    for dirpath, _, names in os.walk(top):
        for name in names:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, top)
            if rel == "expected" or os.path.getsize(path) > MAX_SEED:
                continue
            with open(path, "rb") as f:
                out.append((rel, f.read()))
    return sorted(out)


def docs_of(data):
    """The YAML documents of data that PyYAML reads and JSON can hold, else []."""
    if b"&" in data and b"*" in data:
        return []  # anchors and aliases: an alias bomb would expand without end
    try:
        docs = list(yaml.safe_load_all(data))
        json.dumps(docs)
        return [d for d in docs if d is not None]
    except Exception:
        return []


class Corpus:
    def __init__(self, outdir, target):
        self.dir = os.path.join(outdir, target)
        os.makedirs(self.dir, exist_ok=True)

    def add(self, data):
        if isinstance(data, str):
            data = data.encode()
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)


def loose_seeds(corpus, kind, body):
    """Seeds of fuzz_loose for one object: for the target to compress, and compressed."""
    raw = kind.encode() + b" " + str(len(body)).encode() + b"\0" + body
    corpus.add(b"\x01" + raw)
    corpus.add(b"\x01" + raw + b"\xffjunk")
    corpus.add(b"\x00" + zlib.compress(raw))


def hexid(text, n):
    return hashlib.sha1(text.encode()).hexdigest()[:n]


def ledger(fleet, tenants, minute, result):
    waves = [w.get("name") for w in fleet.get("waves", []) if isinstance(w, dict)] or ["canary"]
    t = "2026-01-01T00:%02d:00Z" % minute
    doc = {"format": 1, "revision": hexid(fleet.get("name", "f"), 40),
           "contexts": {"flotilla/plan": {"state": "success", "description": "plan", "updated": t}},
           "tenants": {}, "waves": {}}
    for i, (name, tenant) in enumerate(tenants):
        wave = str(waves[i % len(waves)])
        doc["contexts"]["flotilla/wave/" + wave] = {"state": "pending", "description": "applying", "updated": t}
        regions = tenant.get("regions") or ["us-east-1"]
        doc["tenants"][name] = {
            "wave": wave, "result": result, "fingerprint": hexid(name, 32), "time": t,
            "verify": [{"name": "smoke", "region": str(r), "time": t, "exit_code": minute % 2,
                        "passed": minute % 2 == 0, "elapsed_ms": 2, "timed_out": False,
                        "output": "ok\n"} for r in regions],
        }
        doc["waves"][wave] = {"succeeded_at": t}
    return doc


def main():
    fixtures, outdir = sys.argv[1], sys.argv[2]
    yaml_c = Corpus(outdir, "fuzz_yaml")
    fleet_c = Corpus(outdir, "fuzz_fleet")
    render_c = Corpus(outdir, "fuzz_render")
    json_c = Corpus(outdir, "fuzz_json")
    notes_c = Corpus(outdir, "fuzz_notes_merge")
    answer_c = Corpus(outdir, "fuzz_driver_answer")

    for dirpath, _, names in os.walk(fixtures):
        for name in sorted(names):
            path = os.path.join(dirpath, name)
            if name.endswith((".yaml", ".yml")) and os.path.getsize(path) <= MAX_SEED:
                with open(path, "rb") as f:
                    data = f.read()
                yaml_c.add(data)
                for doc in docs_of(data):
                    json_c.add(json.dumps(doc))
                    json_c.add(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False))

    bad = os.path.join(fixtures, "bad")
    for case in sorted(os.listdir(bad)):
        files = files_of(os.path.join(bad, case))
        fleet_c.add(b"".join(b"### " + p.encode() + b"\n" + d for p, d in files))
        release = [(p, d) for p, d in files if p.startswith("release/")]
        if release:
            render_c.add(b"".join(b"### " + p.encode() + b"\n" + d for p, d in release))
            render_c.add(b"".join(b"### " + p.encode() + b"\n" + d for p, d in release) +
                         b"### string\n{{tenant.name}}.example.com/{{region}}/{{vars.seats}}\n")

        fleet = {}
        tenants = []
        templates = []
        for p, d in files:
            docs = docs_of(d)
            if p == "fleet.yaml" and docs and isinstance(docs[0], dict):
                fleet = docs[0]
            elif p.startswith("tenants/") and docs and isinstance(docs[0], dict):
                tenants.append((str(docs[0].get("name", p[8:-5])), docs[0]))
            elif p.startswith("release/"):
                templates += [t for t in docs if isinstance(t, dict)]
        if tenants:
            a = ledger(fleet, tenants, 1, "applied")
            b = ledger(fleet, tenants[::-1], 2, "failed")
            notes_c.add(json.dumps(a, indent=2).encode() + b"\n\0" + json.dumps(b, indent=2).encode() + b"\n")
            notes_c.add(json.dumps(a).encode() + b"\0" + json.dumps(a).encode())
        for tname, tenant in tenants:
            answer_c.add(json.dumps({"account": tenant.get("account"), "tenant": tname,
                                     "regions": tenant.get("regions")}))
            resources = [{"kind": t.get("kind"), "name": t.get("name"), "spec": t.get("spec"),
                          "managed": True} for t in templates]
            answer_c.add(json.dumps({
                "exists": True,
                "marker": {"revision": hexid(tname, 40), "tenant_fingerprint": hexid(tname, 32),
                           "inputs_fingerprint": hexid(tname + "i", 32), "resources": len(resources)},
                "resources": resources}))
    answer_c.add('{"exists": false, "marker": null, "resources": []}')
    xml_c = Corpus(outdir, "fuzz_xml")
    for doc in XML_SEEDS:
        xml_c.add(doc)
    notes_c.add(b"{}\0{}")
    state_c = Corpus(outdir, "fuzz_aws_state")
    for doc in AWS_STATE_SEEDS:
        state_c.add(doc)
    loose_c = Corpus(outdir, "fuzz_loose")
    for dirpath, _, names in os.walk(fixtures):
        entries = b"".join(b"100644 " + n.encode() + b"\0" + hashlib.sha1(n.encode()).digest()
                           for n in sorted(names))
        if entries:
            loose_seeds(loose_c, "tree", entries)
        for name in sorted(names)[:2]:
            path = os.path.join(dirpath, name)
            if name.endswith((".yaml", ".yml")) and os.path.getsize(path) <= MAX_SEED // 4:
                with open(path, "rb") as f:
                    loose_seeds(loose_c, "blob", f.read())
    loose_seeds(loose_c, "tree", b"")


if __name__ == "__main__":
    main()
