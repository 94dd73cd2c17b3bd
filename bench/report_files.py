"""How each bench program ends: its JSON report to --json and its Markdown to --markdown when asked,
and the Markdown on stdout."""
import json


def write_reports(o, doc, md):
    if o.json:
        with open(o.json, "w") as f:
            json.dump(doc, f, indent=2)
    if o.markdown:
        with open(o.markdown, "w") as f:
            f.write(md)
    print(md, end="")
