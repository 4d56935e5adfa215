"""The inertial event engine: signal conditioning, vehicle frame, harsh-driving rules."""
