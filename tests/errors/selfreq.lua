return require "selfreq"
