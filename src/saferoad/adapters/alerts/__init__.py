"""In-cab alert sinks: a loopback UDP socket (the cab display) and MQTT."""
