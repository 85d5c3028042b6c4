"""水管家 water-meter alerts: declared rules (:mod:`.config`), the per-meter rule engine
(:mod:`.rules`), the batch processor writing state and alerts in one transaction
(:mod:`.process`), meter registrations (:mod:`.registry`), the MQTT listener (:mod:`.listener`)
and the outbound webhook (:mod:`.webhook`)."""
