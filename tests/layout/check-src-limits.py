#!/usr/bin/env python3
"""The layout rules of src/ (docs/design.md): no file over 600 lines, no function over 80 lines,
and no include cycle among the files of src/agent. Prints each violation with its file and line
and exits 1 when there is one."""
import os
import re
import sys

FILE_MAX, FUNCTION_MAX = 600, 80
root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..')
src = os.path.join(root, 'src')
bad = []


def c_files():
    for d, _, names in os.walk(src):
        for n in sorted(names):
            if n.endswith(('.c', '.h')):
                yield os.path.join(d, n)


def function_spans(lines):
    """(name, first line, length) of each function body: a line at column 0 ending in '{' whose
    statement is a function head, up to the next '}' at column 0."""
    start = None
    for i, line in enumerate(lines):
        if start is None and line.endswith('{') and not line.startswith((' ', '\t', '#', '}', '/')) \
                and '(' in line + ''.join(lines[max(0, i - 3):i]) and not re.match(r'(typedef|struct|enum|union)\b.*[^)]\s*\{$', line) \
                and '=' not in line:
            start = i
            head = line
            j = i
            while '(' not in head and j > 0:
                j -= 1
                head = lines[j] + head
            name = re.findall(r'(\w+)\s*\(', head)
            name = name[0] if name else '?'
        elif start is not None and line.startswith('}'):
            yield name, start + 1, i - start - 1
            start = None


for path in c_files():
    rel = os.path.relpath(path, root)
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    if len(lines) - 1 > FILE_MAX:
        bad.append(f'{rel}: {len(lines) - 1} lines (at most {FILE_MAX})')
    for name, line, length in function_spans(lines):
        if length > FUNCTION_MAX:
            bad.append(f'{rel}:{line}: {name}() is {length} lines (at most {FUNCTION_MAX})')

# Include graph of src/agent: a .c and its .h are one node; an edge where one includes the other's header.
agent = os.path.join(src, 'agent')
edges = {}
for n in os.listdir(agent):
    if not n.endswith(('.c', '.h')):
        continue
    node = n.rsplit('.', 1)[0]
    with open(os.path.join(agent, n), encoding='utf-8') as f:
        for inc in re.findall(r'#include "agent/([\w-]+)\.h"', f.read()):
            if inc != node:
                edges.setdefault(node, set()).add(inc)
# agent.h is the shared context every file includes: it may not include the others back.
state = {}


def visit(n, stack):
    state[n] = 1
    for m in sorted(edges.get(n, ())):
        if state.get(m) == 1:
            bad.append('src/agent: include cycle ' + ' -> '.join(stack[stack.index(m):] + [m]))
        elif m not in state:
            visit(m, stack + [m])
    state[n] = 2


for n in sorted(edges):
    if n not in state:
        visit(n, [n])

for b in bad:
    print(b)
print(f'{len(bad)} layout violations in src/' if bad else 'src/: files, functions and src/agent includes within the rules')
sys.exit(1 if bad else 0)
