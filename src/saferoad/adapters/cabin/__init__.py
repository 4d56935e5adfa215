"""Cabin camera adapters: the face pipeline (detector + landmarks + head pose with
cv2.solvePnP) and the ``cabin.csv`` / ``cabin.parquet`` signal tracks."""
