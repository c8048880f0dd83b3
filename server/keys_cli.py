"""``clinrag keys``: create, list and revoke API keys (only their hashes are stored)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from clinrag.settings import load_settings
from server.config import ServeConfig
from server.keys import ROLES, KeyFileError, add_key, read_keys_file, revoke_key


def main(argv: list[str] | None = None, prog: str = "clinrag keys") -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Manage the API keys of "
                                     "`clinrag serve`.")
    parser.add_argument("--keys-file", type=Path, help="default HOME/server/keys.json")
    parser.add_argument("--home", type=Path, help="clinrag home folder (default: ./data)")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="create a key and print it once")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--note", default="", help="who or what the key is for")
    sub.add_parser("list", help="key ids, roles and creation times (never the keys)")
    revoke = sub.add_parser("revoke", help="remove a key by id")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)

    settings = load_settings({"home": args.home})
    config = ServeConfig(**({"keys_file": args.keys_file} if args.keys_file else {}))
    path = config.resolved(settings).keys_file
    try:
        if args.command == "add":
            key_id, key = add_key(path, args.role, args.note)
            print(f"key id {key_id} ({args.role}) added to {path}", file=sys.stderr)
            print("the key is shown only now; store it safely:", file=sys.stderr)
            print(key)
            return 0
        if args.command == "list":
            for record in read_keys_file(path):
                print(f"{record.key_id}  {record.role:6s}  {record.created}  {record.note}")
            return 0
        if args.command == "revoke":
            if revoke_key(path, args.key_id):
                print(f"revoked {args.key_id} (a running server stops accepting it at once)")
                return 0
            print(f"{prog}: error: no key {args.key_id!r} in {path}", file=sys.stderr)
            return 1
    except KeyFileError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
