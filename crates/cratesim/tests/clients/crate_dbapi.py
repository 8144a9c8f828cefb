"""cratesim through CrateDB's own DB-API client (`crate`): connect, bind parameters, results.

Usage: crate_dbapi.py URL PASSWORD [--credentials-dropped]. Connects as `system` with PASSWORD.
With --credentials-dropped (the Kubernetes pod proxy to a cluster without host-based auth), the
requests arrive without the Authorization header: CrateDB runs them as `crate` and a wrong
password changes nothing. Prints one line per check; exits non-zero on a failure.
"""
import sys

from crate import client
from crate.client.exceptions import ProgrammingError

url, password = sys.argv[1], sys.argv[2]
dropped = "--credentials-dropped" in sys.argv[3:]


def check(condition, message):
    if not condition:
        print("FAIL: " + message)
        sys.exit(1)
    print("ok: " + message)


conn = client.connect(url, username="system", password=password)
cur = conn.cursor()
cur.execute("SELECT CURRENT_USER")
expected_user = "crate" if dropped else "system"
check(cur.fetchone() == [expected_user], "the request runs as " + expected_user)
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
if dropped:
    bad = client.connect(url, username="system", password="wrong").cursor()
    bad.execute("SELECT CURRENT_USER")
    check(bad.fetchone() == ["crate"], "a wrong password never arrives either")
else:
    # CrateDB authenticates every request, so connecting (GET /) already fails.
    try:
        client.connect(url, username="system", password="wrong").cursor().execute("SELECT 1")
        check(False, "a wrong password is refused")
    except Exception as e:
        check(password not in str(e), "a wrong password is refused without echoing the password")
print("all checks passed")
