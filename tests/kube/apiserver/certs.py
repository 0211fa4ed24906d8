# SPDX-License-Identifier: Apache-2.0
"""The server's throwaway PKI, made with the openssl CLI: a CA, the server's certificate for
127.0.0.1 and localhost, another CA that signed nothing, and a client-certificate user."""
import os
import subprocess


def make_certs(d):
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=d)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj",
        "/CN=fake-apiserver-ca")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf")
    run("req", "-x509", *ec, "-keyout", "other-ca.key", "-out", "other-ca.crt", "-days", "2",
        "-subj", "/CN=fake-apiserver-ca")
    # a client certificate user, as kubeadm makes for admins: signed by the cluster CA
    run("req", *ec, "-keyout", "client.key", "-out", "client.csr", "-subj",
        "/O=system:nodes/CN=skiffd")
    run("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "client.crt", "-days", "2")
