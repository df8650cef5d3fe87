"""Bare pull with the official Python SDK (azure.data.tables), for scripts/bench/run.

Lists every entity of a table page by page and counts them.
    python3 scripts/bench/sdk.py TABLE [PAGE_SIZE]
The connection string comes from LEADSYNC_CONNECTION_STRING. Prints the number
of entities and pages read. Uses Debian's python3-azure (run it with
/usr/bin/python3).
"""
import os
import sys

from azure.data.tables import TableClient


def main():
    if len(sys.argv) < 2 or not os.environ.get("LEADSYNC_CONNECTION_STRING"):
        print("usage: LEADSYNC_CONNECTION_STRING=... sdk.py TABLE [PAGE_SIZE]", file=sys.stderr)
        return 64
    table = sys.argv[1]
    page_size = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    client = TableClient.from_connection_string(os.environ["LEADSYNC_CONNECTION_STRING"], table)
    rows = pages = 0
    for page in client.list_entities(results_per_page=page_size).by_page():
        n = 0
        for _ in page:
            n += 1
        rows += n
        pages += 1
    print(f"rows={rows} pages={pages}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
