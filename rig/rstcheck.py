#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Check that an rst file of the kernel's Documentation/ parses cleanly,
without Sphinx: docutils parses it, and every warning or error fails.

  rstcheck.py SRCTREE FILE.rst

Sphinx's own kernel-doc directive (Documentation/sphinx/kerneldoc.py) is
stood in for by one that runs the tree's scripts/kernel-doc exactly as the
real one does (-rst, the same options for :export:, :internal:,
:identifiers:, :functions: and :doc:), fails on its warnings or on no
output, and parses what it prints as the real one would.  The C domain's
directives and roles that kernel-doc's output uses (c:function, c:struct,
c:type, ...) are Sphinx's, so here they only parse their content.  What is
not checked: cross references (no Sphinx, no resolution) and the toctree.
"""
import io
import os
import subprocess
import sys

from docutils import nodes, statemachine
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, directives, roles

SPHINX_VERSION = '5.3.0'     # Debian 12's python3-sphinx: what htmldocs gets
problems = []


class KernelDoc(Directive):
    required_arguments = 1
    optional_arguments = 4
    option_spec = {
        'doc': directives.unchanged_required,
        'export': directives.unchanged,
        'internal': directives.unchanged,
        'identifiers': directives.unchanged,
        'no-identifiers': directives.unchanged,
        'functions': directives.unchanged,
    }
    has_content = False
    srctree = '.'

    def run(self):
        path = self.arguments[0]
        filename = os.path.join(self.srctree, path)
        cmd = ['perl', os.path.join(self.srctree, 'scripts/kernel-doc'), '-rst',
               '-sphinx-version', SPHINX_VERSION, '-Wall']
        opts = dict(self.options)
        if 'functions' in opts:
            opts['identifiers'] = opts['functions']
        patterns = []
        if 'export' in opts:
            cmd.append('-export')
            patterns = (opts['export'] or '').split()
        elif 'internal' in opts:
            cmd.append('-internal')
            patterns = (opts['internal'] or '').split()
        elif 'doc' in opts:
            cmd += ['-function', opts['doc']]
        elif 'identifiers' in opts:
            ids = (opts['identifiers'] or '').split()
            for i in ids:
                cmd += ['-function', i]
            if not ids:
                cmd.append('-no-doc-sections')
        for i in (opts.get('no-identifiers') or '').split():
            cmd += ['-nosymbol', i]
        for p in patterns:
            cmd += ['-export-file', os.path.join(self.srctree, p)]
        cmd.append(filename)
        where = '%s:%d: kernel-doc %s' % (self.state.document.current_source,
                                           self.lineno, path)
        if not os.path.exists(filename):
            problems.append('%s: no such file' % where)
            return []
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        if res.returncode or res.stderr.strip():
            problems.append('%s: %s (exit %d)' % (where, res.stderr.strip(), res.returncode))
        if not res.stdout.strip():
            problems.append('%s: kernel-doc found nothing to include' % where)
            return []
        # kernel-doc names every identifier it found in a c: directive; one
        # asked for by name and missing prints nothing and no warning.
        for i in (opts.get('identifiers') or '').split():
            if not any(line.startswith('.. c:') and (' %s' % i) in line.replace('(', ' ')
                       for line in res.stdout.splitlines()):
                problems.append('%s: no kernel-doc for %s' % (where, i))
        lines = statemachine.string2lines(res.stdout, convert_whitespace=True)
        node = nodes.section()
        self.state.nested_parse(statemachine.StringList(lines, source=filename),
                                0, node, match_titles=1)
        return node.children


class SphinxCDomain(Directive):
    """c:function and friends: parse the content, keep the signature."""
    required_arguments = 0
    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True

    def run(self):
        out = [nodes.literal_block(text=' '.join(self.arguments))]
        if self.content:
            box = nodes.container()
            self.state.nested_parse(self.content, self.content_offset, box)
            out.append(box)
        return out


def c_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    return [nodes.literal(rawtext, text)], []


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: rstcheck.py SRCTREE FILE.rst')
    KernelDoc.srctree = sys.argv[1]
    path = sys.argv[2]
    directives.register_directive('kernel-doc', KernelDoc)
    for d in ('function', 'struct', 'union', 'enum', 'enumerator', 'type',
              'macro', 'var', 'member', 'namespace', 'namespace-push',
              'namespace-pop'):
        directives.register_directive('c:' + d, SphinxCDomain)
    for r in ('c:func', 'c:type', 'c:macro', 'c:member', 'c:data', 'c:enum',
              'c:enumerator', 'c:struct', 'c:union', 'c:var', 'ref', 'doc'):
        roles.register_local_role(r, c_role)
    warnings = io.StringIO()
    with open(path) as f:
        source = f.read()
    publish_doctree(source, source_path=path, settings_overrides={
        'report_level': 2, 'halt_level': 5, 'warning_stream': warnings,
        'file_insertion_enabled': False, 'raw_enabled': False,
        'tab_width': 8,
    })
    for line in warnings.getvalue().splitlines():
        if line.strip():
            problems.append(line)
    for p in problems:
        print('rig: docs: ' + p)
    sys.exit(1 if problems else 0)


if __name__ == '__main__':
    main()
