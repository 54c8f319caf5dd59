"""The adversarial end-to-end suite of postfix-test/e2e-forgery (issue 17).

Modules: ``mail`` (composing, sending and reading messages), ``dkimsign``
(test keys and signatures, lax ones included), ``table`` (the case type),
``cases_*`` (the case table, one module per class of attack), ``verdict``
(the milter's stamp and the sensor's record as results, and the promise
between them), ``check`` (every message's checks) and ``side`` (alerts, web,
refused connections, status page).
"""
