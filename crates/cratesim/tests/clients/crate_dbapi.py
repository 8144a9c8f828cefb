"""cratesim through CrateDB's own DB-API client (`crate`): connect, bind parameters, results.

Usage: crate_dbapi.py URL PASSWORD. Prints one line per check; exits non-zero on a failure.
"""
import sys

from crate import client
from crate.client.exceptions import ProgrammingError

url, password = sys.argv[1], sys.argv[2]


def check(condition, message):
    if not condition:
        print("FAIL: " + message)
        sys.exit(1)
    print("ok: " + message)


conn = client.connect(url, username="system", password=password)
cur = conn.cursor()
cur.execute("SELECT name FROM sys.nodes WHERE name = ?", ("data-hot-1",))
check(cur.fetchall() == [["data-hot-1"]], "bind parameters")
cur.execute("SELECT max(severity) FROM sys.health")
check(cur.fetchone() == [1], "sys.health severity 1 (GREEN)")
cur.execute("SELECT settings['cluster']['routing']['allocation']['enable'] FROM sys.cluster")
check(cur.fetchone() == ["all"], "allocation.enable read from sys.cluster")
try:
    cur.execute("SELECT * FROM doc.nope")
    check(False, "unknown table raises")
except ProgrammingError as e:
    check("RelationUnknown" in str(e), "unknown table raises ProgrammingError: %s" % e)
bad = client.connect(url, username="system", password="wrong").cursor()
try:
    bad.execute("SELECT 1")
    check(False, "a wrong password is refused")
except Exception as e:
    check(password not in str(e), "a wrong password is refused without echoing the password")
print("all checks passed")
