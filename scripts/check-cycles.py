"""No two files of a crate import each other, directly or through others.

Builds each crate's file-level import graph: an edge a -> b when a's code (tests aside) names a
path that resolves into file b (`crate::x::y`, `super::…`, `self::…`, a child module's name).
A module naming its own child modules is containment, not an import (it declares and routes to
them), so that one kind of edge is left out; every other edge counts, a child's `super::` up to
its parent included. Prints each cycle and exits 1 if there is one.
  python3 scripts/check-cycles.py [REPO_ROOT]"""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
found = False
def modpath(crate_src, f):
    rel = os.path.relpath(f, crate_src)[:-3].split(os.sep)
    if rel[-1] in ("lib", "main"): rel = rel[:-1]
    elif rel[-1] == "mod": rel = rel[:-1]
    return tuple(rel)
for crate in sorted(os.listdir(os.path.join(root, "crates"))):
    src = os.path.join(root, "crates", crate, "src")
    files = {}
    for d, _, fs in os.walk(src):
        for f in fs:
            if f.endswith(".rs"):
                p = os.path.join(d, f); files[modpath(src, p)] = p
    def resolve(mp):
        # longest prefix that is a file module
        for n in range(len(mp), 0, -1):
            if tuple(mp[:n]) in files: return tuple(mp[:n])
        return None
    edges = {m: set() for m in files}
    for m, p in files.items():
        text = open(p).read()
        # strip cfg(test) mod tests blocks crudely: ignore after '#[cfg(test)]\nmod tests'
        text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
        text = re.sub(r"//.*", "", text)
        is_dir_mod = p.endswith(("mod.rs", "lib.rs", "main.rs"))
        here = list(m)
        parent = here if is_dir_mod else here[:-1]
        for path in re.findall(r"\b((?:crate|super|self)(?:::\w+)+)", text):
            parts = path.split("::")
            if parts[0] == "crate": base = []; rest = parts[1:]
            elif parts[0] == "self": base = here if is_dir_mod else here; rest = parts[1:]
            else:
                base = list(parent); rest = parts[1:]
                while rest and rest[0] == "super": base = base[:-1]; rest = rest[1:]
                if parts[0] == "super" and not is_dir_mod: pass
            if parts[0] == "super" and is_dir_mod: base = here[:-1]
            tgt = resolve(tuple(base + rest))
            if tgt is not None and tgt != m: edges[m].add(tgt)
        # bare paths into a child module (`log::list` in webhooks/mod.rs)
        if is_dir_mod:
            for name in set(re.findall(r"(?<![:\w])(\w+)::", text)):
                tgt = tuple(here + [name])
                if tgt in files and tgt != m: edges[m].add(tgt)
        # grouped use crate::{a, b::c}
        for grp in re.findall(r"use\s+crate::\{([^;]*)\};", text, re.S):
            for item in re.findall(r"(\w+(?:::\w+)*)", grp):
                tgt = resolve(tuple(item.split("::")))
                if tgt is not None and tgt != m: edges[m].add(tgt)
        for grp in re.findall(r"use\s+super::\{([^;]*)\};", text, re.S):
            for item in re.findall(r"(\w+(?:::\w+)*)", grp):
                b = here[:-1] if is_dir_mod else parent
                tgt = resolve(tuple(list(b) + item.split("::")))
                if tgt is not None and tgt != m: edges[m].add(tgt)
    # A module naming its own child modules is containment (it declares and routes to them),
    # not an import back up; every other edge counts.
    for m in edges:
        edges[m] = {t for t in edges[m] if t[:-1] != m}
    # find SCCs (Tarjan)
    index = {}; low = {}; st = []; on = set(); sccs = []; c = [0]
    sys.setrecursionlimit(10000)
    def sc(v):
        index[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
        for w in edges[v]:
            if w not in index: sc(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = st.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: sccs.append(comp)
    for v in edges:
        if v not in index: sc(v)
    for comp in sccs:
        found = True
        print("check-cycles: %s: %s" % (crate, " <-> ".join("/".join(x) or "lib" for x in comp)))
if found:
    sys.exit(1)
print("check-cycles: no two files of a crate import each other")
