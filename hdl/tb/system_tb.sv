// placeholder: filled in by the system RTL work
