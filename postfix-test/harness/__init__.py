"""The Python half of the shell harnesses in postfix-test/ (lib.sh runs a
module with ``lab_py MODULE ARGS``, i.e. ``python3 -m harness.MODULE``).

  common         header fields, Authentication-Results parsing (python3-authres), JSON lines
  stamps         the milter's stamp and its own Authentication-Results in a delivered message
  sensor_record  e2e-sensor: the sensor's records of a case
  outage         e2e-sensor: the queued copy while the sensor is down
  smtputf8       e2e-sensor: one message with MAIL FROM ... SMTPUTF8
  kill_sender    e2e-milter-kill: the message stream
  kill_check     e2e-milter-kill: the verdict of one phase
"""
