"""The dead-letter sink of the broker transport: one dead letter for both transports."""
