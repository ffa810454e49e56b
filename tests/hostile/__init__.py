"""The hostile-target suite: the real CLI against a server that misbehaves on purpose."""
