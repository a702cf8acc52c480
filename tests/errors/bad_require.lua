local m = require "mastering.streeming"
