-- a ceiling above full scale would let the output clip
mix.master:limit { ceiling_db = 1 }
