"""Monitoring that reacts: the prediction log, feedback, monitors, alerts and reactions."""
