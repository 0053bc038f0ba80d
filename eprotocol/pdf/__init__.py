"""PDF adapters: rendering (reportlab, segno) and PAdES signing and validation (pyHanko).

Certificates, seals stamped on outgoing documents and daily registers are
rendered in :mod:`eprotocol.pdf.render`; :mod:`eprotocol.pdf.signing` signs
and checks signatures.

These are the only modules that import those libraries; the domain reaches
them through the ports of :mod:`eprotocol.core.certificates`.
"""
