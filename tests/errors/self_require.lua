require "selfreq"
