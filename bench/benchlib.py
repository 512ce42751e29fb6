"""Helpers the bench scripts share (bench/*.py run from the repository
root; this directory is on their sys.path as their own)."""
import os


def kvm_available():
    """Whether /dev/kvm opens: accel=auto would pick KVM."""
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
        return True
    except OSError:
        return False
