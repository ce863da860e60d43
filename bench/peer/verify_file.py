"""The Python peer of hlx's export verification, for bench/ section 7.

What a Python team would write to check an export file: each line through
json.loads, a JSON object whose resourceType is the file's type, an id that
follows FHIR's rule ([A-Za-z0-9-.]{1,64}), unique within the file (a set of
the ids seen). The same checks hlx's FileVerifier makes, over the same file.

    python verify_file.py FILE RESOURCE_TYPE

prints one JSON line: lines, resources, problems, duplicates, seconds (the
read and the checks, not the interpreter's start) and vmhwm_kib (the
process's peak RSS, /proc/self/status VmHWM).
"""

import json
import re
import sys
import time

FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}\Z")


def peak_rss_kib():
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def verify(path, expected_type):
    lines = resources = problems = duplicates = 0
    seen = set()
    with open(path, "rb") as export_file:
        for raw in export_file:
            lines += 1
            try:
                resource = json.loads(raw)
            except ValueError:
                problems += 1
                continue
            if not isinstance(resource, dict) or resource.get("resourceType") != expected_type:
                problems += 1
                continue
            resources += 1
            resource_id = resource.get("id")
            if not isinstance(resource_id, str) or not FHIR_ID.match(resource_id):
                problems += 1
                continue
            if resource_id in seen:
                duplicates += 1
            seen.add(resource_id)
    return lines, resources, problems, duplicates


def main():
    if len(sys.argv) != 3:
        print("usage: verify_file.py FILE RESOURCE_TYPE", file=sys.stderr)
        return 2
    started = time.perf_counter()
    lines, resources, problems, duplicates = verify(sys.argv[1], sys.argv[2])
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "lines": lines,
                "resources": resources,
                "problems": problems,
                "duplicates": duplicates,
                "seconds": seconds,
                "vmhwm_kib": peak_rss_kib(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
